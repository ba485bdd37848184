// Errors thrown to JavaScript. The errno's name is given in TypeScript (os.constants.errno,
// src/native.ts), so no table of names is kept here.
#include <string.h>

#include "addon.h"

namespace ns {

Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& syscall, const std::string& detail) {
  Napi::Error e = Napi::Error::New(env, strerror(err));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (!detail.empty()) e.Set("detail", Napi::String::New(env, detail));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowPlan(Napi::Env env, const std::string& why) {
  Napi::TypeError e = Napi::TypeError::New(env, "invalid plan buffer: " + why);
  e.Set("code", Napi::String::New(env, "ERR_NS_PLAN"));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace ns
