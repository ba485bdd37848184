// Decoding the plan's wire format (layout in plan.h, writer in src/encode.ts).
//
// Compiled into the addon, which checks a plan before it clones, and into ns-init, which
// decodes it again in its own memory: so no C library, no allocation, no exceptions.
#include "plan.h"

namespace {

uint32_t u32(const uint8_t* b, uint64_t off) {
  return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
}

int64_t i64(const uint8_t* b, uint64_t off) {
  return (int64_t)((uint64_t)u32(b, off) | (uint64_t)u32(b, off + 4) << 32);
}

// Vectors of raw integers (descriptors, group ids); the others hold string offsets.
bool int_vector(uint32_t op) { return op == NS_OP_SETGROUPS || op == NS_OP_STDIO || op == NS_OP_SECCOMP || op == NS_OP_SECCOMP_NOTIFY; }

struct Layout {
  uint32_t n, steps_off, vec_off, str_off;
};

const char* header(const uint8_t* b, uint64_t len, Layout* l) {
  if (len < NS_PLAN_HEADER_BYTES) return "too short";
  if (u32(b, 0) != NS_PLAN_MAGIC) return "bad magic";
  if (u32(b, 4) != NS_PLAN_VERSION) return "version mismatch";
  if (u32(b, 32) > 64) return "bad parent death signal";
  l->n = u32(b, 12);
  l->steps_off = u32(b, 16);
  l->vec_off = u32(b, 20);
  l->str_off = u32(b, 24);
  if (u32(b, 28) != len || l->steps_off < NS_PLAN_HEADER_BYTES ||
      l->steps_off + (uint64_t)l->n * NS_STEP_BYTES > l->vec_off || l->vec_off > l->str_off || l->str_off > len ||
      (len > l->str_off && b[len - 1] != 0))
    return "inconsistent layout";
  return nullptr;
}

// A string slot: NS_NONE is null; anything else must start inside the string table (which
// ends with a NUL, checked by header()).
bool string_at(const uint8_t* b, uint64_t len, const Layout& l, uint32_t id, const char** s) {
  if (id == NS_NONE) return *s = nullptr, true;
  if ((uint64_t)l.str_off + id >= len) return false;
  *s = (const char*)b + l.str_off + id;
  return true;
}

// Walk every step; with `steps`, fill them in (and `slots`, of which `*used` are taken).
const char* walk(const uint8_t* b, uint64_t len, const Layout& l, ns_step* steps, const char** slots, uint64_t cap,
                 uint64_t* used, int32_t* at) {
  *used = 0;
  for (uint32_t k = 0; k < l.n; k++) {
    *at = (int32_t)k;
    const uint8_t* p = b + l.steps_off + (uint64_t)k * NS_STEP_BYTES;
    uint32_t op = u32(p, 0);
    if (op == 0 || op >= NS_OP_MAX) return "unknown op";
    ns_step tmp;
    ns_step& s = steps ? steps[k] : tmp;
    s.op = op;
    s.flags = u32(p, 4);
    for (int j = 0; j < 6; j++) s.i[j] = i64(p, 8 + 8 * j);
    for (int j = 0; j < 4; j++)
      if (!string_at(b, len, l, u32(p, 56 + 4 * j), &s.s[j])) return "bad string";
    s.iv = nullptr;
    for (int j = 0; j < 3; j++) {
      s.v[j] = nullptr;
      s.vlen[j] = 0;
      uint32_t id = u32(p, 72 + 4 * j);
      if (id == NS_NONE) continue;
      uint64_t off = (uint64_t)l.vec_off + id;
      if (off + 4 > l.str_off || (off & 3)) return "bad vector";
      uint32_t count = u32(b, off);
      if (off + 4 + (uint64_t)count * 4 > l.str_off) return "bad vector length";
      s.vlen[j] = count;
      if (int_vector(op) && j == 0) {
        s.iv = (const uint32_t*)(b + off + 4);  // 4-byte aligned by the encoder (checked above)
        continue;
      }
      if (steps && *used + count + 1 > cap) return "too many vector entries";
      const char** v = steps ? slots + *used : nullptr;
      for (uint32_t e = 0; e < count; e++) {
        const char* str;
        if (!string_at(b, len, l, u32(b, off + 4 + 4 * e), &str) || !str) return "bad vector string";
        if (v) v[e] = str;
      }
      if (v) {
        v[count] = nullptr;
        s.v[j] = v;
      }
      *used += count + 1;
    }
  }
  *at = -1;
  return nullptr;
}

}  // namespace

extern "C" const char* ns_plan_measure(const uint8_t* b, uint64_t len, uint32_t* nsteps, uint64_t* nslots, int32_t* at) {
  Layout l;
  *at = -1;
  const char* why = header(b, len, &l);
  if (why) return why;
  *nsteps = l.n;
  return walk(b, len, l, nullptr, nullptr, 0, nslots, at);
}

extern "C" const char* ns_plan_decode(const uint8_t* b, uint64_t len, ns_step* steps, const char** slots, uint64_t nslots,
                                      ns_plan* out, int32_t* at) {
  Layout l;
  *at = -1;
  const char* why = header(b, len, &l);
  if (why) return why;
  uint64_t used;
  why = walk(b, len, l, steps, slots, nslots, &used, at);
  if (why) return why;
  out->clone_flags = u32(b, 8);
  out->pdeathsig = u32(b, 32);
  out->nsteps = l.n;
  out->steps = steps;
  return nullptr;
}
