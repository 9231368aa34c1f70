#include "common/json.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace amlcore::json {

absl::StatusOr<bj::value> Parse(absl::string_view text) {
  bj::error_code ec;
  bj::stream_parser parser;
  size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = bj::error::extra_data;
  if (!ec) parser.finish(ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("Malformed JSON at offset ", consumed, ": ", ec.message()));
  }
  return parser.release();
}

absl::StatusOr<bj::object> ParseObject(absl::string_view text, absl::string_view what) {
  auto value = Parse(text);
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", value.status().message()));
  }
  if (!value->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected a JSON object"));
  }
  return std::move(value->as_object());
}

std::string Serialize(const bj::value& value) { return bj::serialize(value); }

ObjectReader::ObjectReader(const bj::object* object, std::string path)
    : ObjectReader(object, std::move(path), std::make_shared<std::vector<std::string>>()) {}

ObjectReader::ObjectReader(const bj::object* object, std::string path,
                           std::shared_ptr<std::vector<std::string>> errors)
    : object_(object), path_(std::move(path)), errors_(std::move(errors)) {}

std::string ObjectReader::FieldPath(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

const bj::value* ObjectReader::Lookup(absl::string_view key) {
  seen_.emplace_back(key);
  if (object_ == nullptr) return nullptr;
  const bj::value* v = object_->if_contains(Bj(key));
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

void ObjectReader::TypeError(absl::string_view key, absl::string_view expected) {
  errors_->push_back(absl::StrCat("Field '", FieldPath(key), "' must be ", expected, "."));
}

std::optional<std::string> ObjectReader::String(absl::string_view key) {
  const bj::value* v = Lookup(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    TypeError(key, "a string");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

std::optional<int64_t> ObjectReader::Int(absl::string_view key) {
  const bj::value* v = Lookup(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  if (v->is_double() && std::trunc(v->as_double()) == v->as_double() &&
      std::fabs(v->as_double()) < 9e15) {
    return static_cast<int64_t>(v->as_double());
  }
  TypeError(key, "an integer");
  return std::nullopt;
}

std::optional<double> ObjectReader::Number(absl::string_view key) {
  const bj::value* v = Lookup(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number()) return v->to_number<double>();
  TypeError(key, "a number");
  return std::nullopt;
}

std::optional<bool> ObjectReader::Bool(absl::string_view key) {
  const bj::value* v = Lookup(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    TypeError(key, "true or false");
    return std::nullopt;
  }
  return v->as_bool();
}

ObjectReader ObjectReader::Object(absl::string_view key) {
  const bj::value* v = Lookup(key);
  if (v != nullptr && !v->is_object()) {
    TypeError(key, "an object");
    v = nullptr;
  }
  return ObjectReader(v ? &v->as_object() : nullptr, FieldPath(key), errors_);
}

const bj::value* ObjectReader::Raw(absl::string_view key) { return Lookup(key); }

absl::Status ObjectReader::Finish() {
  if (object_ != nullptr) {
    for (const auto& [key, value] : *object_) {
      if (std::find(seen_.begin(), seen_.end(), Sv(key)) == seen_.end()) {
        std::vector<std::string> allowed = seen_;
        std::sort(allowed.begin(), allowed.end());
        allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
        errors_->push_back(absl::StrCat("Unknown field '", FieldPath(Sv(key)), "'; allowed fields",
                                        path_.empty() ? "" : absl::StrCat(" of '", path_, "'"),
                                        ": ", absl::StrJoin(allowed, ", "), "."));
        break;
      }
    }
  }
  if (errors_->empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(errors_->front());
}

std::string GetString(const bj::object& object, absl::string_view key, absl::string_view fallback) {
  const bj::value* v = object.if_contains(Bj(key));
  return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
}

int64_t GetInt(const bj::object& object, absl::string_view key, int64_t fallback) {
  const bj::value* v = object.if_contains(Bj(key));
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return fallback;
}

bool GetBool(const bj::object& object, absl::string_view key, bool fallback) {
  const bj::value* v = object.if_contains(Bj(key));
  return v && v->is_bool() ? v->as_bool() : fallback;
}

const bj::object* GetObject(const bj::object& object, absl::string_view key) {
  const bj::value* v = object.if_contains(Bj(key));
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::vector<std::string> GetStrings(const bj::object& object, absl::string_view key) {
  std::vector<std::string> out;
  if (const bj::value* v = object.if_contains(Bj(key)); v && v->is_array()) {
    for (const auto& item : v->as_array()) {
      if (item.is_string()) out.emplace_back(Sv(item.as_string()));
    }
  }
  return out;
}

bj::array StringArray(const std::vector<std::string>& values) {
  bj::array out;
  for (const auto& v : values) out.push_back(bj::value(Bj(v)));
  return out;
}

}  // namespace amlcore::json
