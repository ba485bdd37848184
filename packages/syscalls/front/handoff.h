// The front's hand-off of a call to a warm `ns serve` (docs/cli-start.md, option C).
//
// The wire format, defined with the server in packages/cli/src/serve/protocol.ts:
//   request  "NSH2" (a front that clones for the server; "NSH1" is one that does not), then
//            three little-endian u32: the body's length, argc, envc; then the body: (NSH2
//            only) the umask in octal, the working directory, each argument (argv[1..], without the program's name) and each
//            environment entry, every one ended by a NUL. The first sendmsg(2) carries
//            descriptors 0, 1 and 2 (SCM_RIGHTS).
//            A call the server has not started within 3 s: the front sends 'Q' (it gives up);
//            the server, before it would start a call, reads that and answers 'F'. A front
//            that then reads 'R' (it came as the wait ran out) goes on with the call, and the
//            server skips that 'Q' before the front's answer to 'S'.
//   answer   'F': refused, nothing ran (the front goes on); or 'R' when the call starts, then
//            messages: 'S' asks the front to clone the container's process (clone.h; format
//            in src/native/spawn_via.cc), 'X' ends the call with two little-endian i32, its
//            exit status and the pid of the container's process made (0: none).
#pragma once

// Hand the call `argv` (argv[0] is the program's name, not sent) to the server listening on
// `<root>/.server`, with this process's working directory, environment and descriptors 0, 1, 2.
// Returns the call's exit status when the server ran it, or -1 when there is no server (or it
// is not this user's, or it refused the call before running anything): then the caller runs
// the call itself. Once the server has started the call, a server gone before answering is 125.
int ns_front_handoff(int argc, char **argv, const char *root);

// After 'R': carry out the server's messages on the connection `s` until the call's end: 'S'
// asks for a clone (clone.h), 'X' ends the call with its status and the pid of the container's
// process the server made. Returns the status, or -1 when the server went away (or spoke out
// of turn), its child then killed and reaped.
int ns_front_messages(int s);
