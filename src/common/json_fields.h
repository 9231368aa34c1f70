// Declarative JSON codecs for plain structs: a struct lists its fields once, next to its definition, and that
// one list both encodes and decodes it, so the two can never disagree.
//
//   struct Probe { int64_t period_seconds = 10; std::optional<std::string> path; };
//   constexpr auto JsonFields(const Probe*) {
//     return json::Fields(json::Field("periodSeconds", &Probe::period_seconds), json::Field("path", &Probe::path));
//   }
//   bj::value v = json::Encode(probe);                      // {"periodSeconds": 10}; unset optionals are left out
//   absl::Status s = json::Decode(v, &probe, "probe");      // "Field 'probe.periodSeconds' must be an integer."
//
// Supported members: std::string, bool, integers, double, std::optional<T>, std::vector<T>,
// std::map<std::string, T>, and structs that have JsonFields themselves. Missing and null fields keep the
// member's default. Decoding reports the first type error, and with `reject_unknown` a field the struct does not
// list.
#ifndef AMLCORE_COMMON_JSON_FIELDS_H_
#define AMLCORE_COMMON_JSON_FIELDS_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json.h"

namespace amlcore::json {

template <class T, class M>
struct FieldDef {
  const char* name;
  M T::*member;
};

template <class T, class M>
constexpr FieldDef<T, M> Field(const char* name, M T::*member) {
  return {name, member};
}

template <class... F>
struct FieldList {
  std::tuple<F...> fields;
};

template <class... F>
constexpr FieldList<F...> Fields(F... fields) {
  return {std::tuple<F...>(fields...)};
}

template <class T>
concept Described = requires(const T* p) { JsonFields(p); };

struct DecodeOptions {
  bool reject_unknown = false;
};

namespace fields_internal {
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

struct Context {
  DecodeOptions options;
  std::string error;
  bool failed() const { return !error.empty(); }
  void Fail(const std::string& path, absl::string_view expected) {
    if (error.empty()) error = absl::StrCat("Field '", path, "' must be ", expected, ".");
  }
};

inline std::string Join(const std::string& path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}
}  // namespace fields_internal

inline bj::value Encode(const std::string& value) { return bj::value(Bj(value)); }
inline bj::value Encode(bool value) { return bj::value(value); }
inline bj::value Encode(double value) { return bj::value(value); }
template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
bj::value Encode(I value) {
  return bj::value(static_cast<int64_t>(value));
}
template <class T>
bj::value Encode(const std::optional<T>& value);
template <class T>
bj::value Encode(const std::vector<T>& values);
template <class T>
bj::value Encode(const std::map<std::string, T>& values);
template <Described T>
bj::value Encode(const T& value);

template <class T>
bj::value Encode(const std::optional<T>& value) {
  return value ? Encode(*value) : bj::value(nullptr);
}

template <class T>
bj::value Encode(const std::vector<T>& values) {
  bj::array out;
  out.reserve(values.size());
  for (const auto& v : values) out.push_back(Encode(v));
  return out;
}

template <class T>
bj::value Encode(const std::map<std::string, T>& values) {
  bj::object out;
  for (const auto& [k, v] : values) out[Bj(k)] = Encode(v);
  return out;
}

template <Described T>
bj::value Encode(const T& value) {
  bj::object out;
  std::apply(
      [&](const auto&... field) {
        auto put = [&](const auto& f) {
          const auto& member = value.*(f.member);
          if constexpr (fields_internal::IsOptional<std::decay_t<decltype(member)>>::value) {
            if (!member) return;
          }
          out[f.name] = Encode(member);
        };
        (put(field), ...);
      },
      JsonFields(static_cast<const T*>(nullptr)).fields);
  return out;
}

namespace fields_internal {
inline void Read(const bj::value& v, std::string* out, const std::string& path, Context& c) {
  if (!v.is_string()) return c.Fail(path, "a string");
  *out = std::string(Sv(v.as_string()));
}
inline void Read(const bj::value& v, bool* out, const std::string& path, Context& c) {
  if (!v.is_bool()) return c.Fail(path, "true or false");
  *out = v.as_bool();
}
inline void Read(const bj::value& v, double* out, const std::string& path, Context& c) {
  if (!v.is_number()) return c.Fail(path, "a number");
  *out = v.to_number<double>();
}
template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
void Read(const bj::value& v, I* out, const std::string& path, Context& c) {
  // Integers only, and only those the member can hold: a value is never silently truncated.
  std::optional<int64_t> n;
  if (v.is_int64()) n = v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) n = static_cast<int64_t>(v.as_uint64());
  if (v.is_double() && std::trunc(v.as_double()) == v.as_double() && std::fabs(v.as_double()) < 9e15) {
    n = static_cast<int64_t>(v.as_double());
  }
  if (!n || *n < static_cast<int64_t>(std::numeric_limits<I>::min()) ||
      static_cast<uint64_t>(*n) > static_cast<uint64_t>(std::numeric_limits<I>::max())) {
    return c.Fail(path, "an integer");
  }
  *out = static_cast<I>(*n);
}
template <class T>
void Read(const bj::value& v, std::optional<T>* out, const std::string& path, Context& c);
template <class T>
void Read(const bj::value& v, std::vector<T>* out, const std::string& path, Context& c);
template <class T>
void Read(const bj::value& v, std::map<std::string, T>* out, const std::string& path, Context& c);
template <Described T>
void Read(const bj::value& v, T* out, const std::string& path, Context& c);

template <class T>
void Read(const bj::value& v, std::optional<T>* out, const std::string& path, Context& c) {
  if (v.is_null()) return out->reset();
  T value{};
  Read(v, &value, path, c);
  if (!c.failed()) *out = std::move(value);
}

template <class T>
void Read(const bj::value& v, std::vector<T>* out, const std::string& path, Context& c) {
  if (!v.is_array()) return c.Fail(path, "a list");
  out->clear();
  for (const auto& item : v.as_array()) {
    T value{};
    Read(item, &value, absl::StrCat(path, "[]"), c);
    if (c.failed()) return;
    out->push_back(std::move(value));
  }
}

template <class T>
void Read(const bj::value& v, std::map<std::string, T>* out, const std::string& path, Context& c) {
  if (!v.is_object()) return c.Fail(path, "an object");
  out->clear();
  for (const auto& [k, item] : v.as_object()) {
    T value{};
    Read(item, &value, Join(path, Sv(k)), c);
    if (c.failed()) return;
    (*out)[std::string(Sv(k))] = std::move(value);
  }
}

template <Described T>
void Read(const bj::value& v, T* out, const std::string& path, Context& c) {
  if (!v.is_object()) return c.Fail(path, "an object");
  const bj::object& object = v.as_object();
  std::vector<const char*> names;
  std::apply(
      [&](const auto&... field) {
        auto get = [&](const auto& f) {
          names.push_back(f.name);
          if (c.failed()) return;
          const bj::value* item = object.if_contains(f.name);
          if (item == nullptr || item->is_null()) return;
          Read(*item, &(out->*(f.member)), Join(path, f.name), c);
        };
        (get(field), ...);
      },
      JsonFields(static_cast<const T*>(nullptr)).fields);
  if (c.failed() || !c.options.reject_unknown) return;
  for (const auto& [key, item] : object) {
    bool known = false;
    for (const char* name : names) known = known || Sv(key) == name;
    if (!known) {
      c.error = absl::StrCat("Unknown field '", Join(path, Sv(key)), "'; allowed fields",
                             path.empty() ? "" : absl::StrCat(" of '", path, "'"), ": ", absl::StrJoin(names, ", "),
                             ".");
      return;
    }
  }
}
}  // namespace fields_internal

// Decodes `value` into `out` (which keeps its defaults for missing fields); kInvalidArgument naming the field.
// `path` names the document in messages ("" for the top level).
template <class T>
absl::Status Decode(const bj::value& value, T* out, absl::string_view path = "", DecodeOptions options = {}) {
  fields_internal::Context context{options, ""};
  fields_internal::Read(value, out, std::string(path), context);
  if (context.failed()) return absl::InvalidArgumentError(context.error);
  return absl::OkStatus();
}

// Parses `text` and decodes it.
template <class T>
absl::StatusOr<T> DecodeText(absl::string_view text, absl::string_view what, DecodeOptions options = {}) {
  auto parsed = Parse(text);
  if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", parsed.status().message()));
  T out{};
  if (auto s = Decode(*parsed, &out, "", options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  return out;
}

template <class T>
std::string EncodeText(const T& value) {
  return Serialize(Encode(value));
}

}  // namespace amlcore::json

#endif  // AMLCORE_COMMON_JSON_FIELDS_H_
