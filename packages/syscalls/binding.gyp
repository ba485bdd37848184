{
  "targets": [
    {
      # ns-init: the static helper that runs a plan (src/native/init/init.h). No C library;
      # its bytes are embedded in the addon below, which execs it from a sealed memfd.
      "target_name": "ns_init",
      "type": "executable",
      "sources": [
        "src/native/init/main.cc",
        "src/native/init/run.cc",
        "src/native/init/fs.cc",
        "src/native/init/proc.cc",
        "src/native/init/reaper.cc",
        "src/native/init/hook.cc",
        "src/native/init/pool.cc",
        "src/native/init/keyring.cc",
        "src/native/init/console.cc",
        "src/native/init/idmap.cc",
        "src/native/decode.cc"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags!": ["-fPIC", "-pthread", "-fstack-protector", "-fstack-protector-strong"],
      "cflags_cc!": ["-fPIC", "-pthread"],
      "cflags": [
        "-Os", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-pie",
        "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-tree-loop-distribute-patterns",
        "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Wno-unused-parameter"
      ],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"],
      "ldflags!": ["-rdynamic", "-pthread"],
      "ldflags": ["-nostdlib", "-static", "-no-pie", "-Wl,--gc-sections", "-Wl,--build-id=none", "-s"]
    },
    {
      # ns-front: the native front of the `ns` command (front/main.c, docs/cli-start.md), a
      # small C program shipped next to the addon as prebuilds/<platform>/ns-front. Static:
      # linked dynamically on Debian 12 it needs GLIBC_2.34 (__libc_start_main) where the addon
      # needs 2.28, and on an older glibc the loader would refuse it after the launcher's exec
      # (a failed call, not a fall-back to Node); static, it also starts faster.
      "target_name": "ns_front",
      "type": "executable",
      "sources": ["front/main.c", "front/record.c", "front/verbs.c", "front/handoff.c", "front/clone.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags!": ["-pthread", "-fPIC"],
      "cflags": ["-O2", "-std=gnu11", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags!": ["-rdynamic", "-pthread"],
      "ldflags": ["-static", "-s", "-Wl,--gc-sections"]
    },
    {
      "target_name": "ns_syscalls",
      "dependencies": ["ns_init"],
      "sources": [
        "src/native/addon.cc",
        "src/native/errors.cc",
        "src/native/image.cc",
        "src/native/stub.cc",
        "src/native/start.cc",
        "src/native/clone3.cc",
        "src/native/spawn.cc",
        "src/native/spawn_via.cc",
        "src/native/spawn_async.cc",
        "src/native/watch.cc",
        "src/native/fds.cc",
        "src/native/bpf.cc",
        "src/native/nsfd.cc",
        "src/native/netlink.cc",
        "src/native/unix.cc",
        "src/native/fdwatch.cc",
        "src/native/seccomp_notify.cc",
        "src/native/decode.cc"
      ],
      "actions": [
        {
          "action_name": "embed_ns_init",
          "inputs": ["<(PRODUCT_DIR)/ns_init", "src/native/init/embed.mjs"],
          "outputs": ["<(INTERMEDIATE_DIR)/ns_init_image.cc"],
          "action": ["node", "src/native/init/embed.mjs", "<(PRODUCT_DIR)/ns_init", "<(INTERMEDIATE_DIR)/ns_init_image.cc"],
          "process_outputs_as_sources": 1
        }
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src/native"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-fno-plt", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-fno-plt", "-Wall", "-Wno-unused-parameter"],
      "ldflags": ["-Wl,-z,now"]
    }
  ]
}
