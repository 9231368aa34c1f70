// JSON parsing and strict reading of request bodies (Boost.JSON; internal to the implementation).
#ifndef AMLCORE_COMMON_JSON_H_
#define AMLCORE_COMMON_JSON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "common/string_views.h"

namespace amlcore::json {

namespace bj = boost::json;

// Boost.JSON and absl have separate string_view types; these convert without copying.
inline bj::string_view Bj(absl::string_view s) { return bj::string_view(s.data(), s.size()); }
inline absl::string_view Sv(bj::string_view s) { return AsAbsl(s); }

// Parses `text`; a syntax error becomes kInvalidArgument naming the offset.
absl::StatusOr<bj::value> Parse(absl::string_view text);
// Parses `text`, which must be a JSON object.
absl::StatusOr<bj::object> ParseObject(absl::string_view text, absl::string_view what);
std::string Serialize(const bj::value& value);

// Reads typed fields of an object and remembers what went wrong: a field of the wrong type, or a field the
// reader was never asked about (unknown field). Missing and null fields read as absent. Child readers share
// the parent's error list; call Finish() on each reader, children first, then on the parent.
class ObjectReader {
 public:
  // `object` may be null, which reads as an empty object. `path` names the object in messages ("properties").
  ObjectReader(const bj::object* object, std::string path);

  std::optional<std::string> String(absl::string_view key);
  std::optional<int64_t> Int(absl::string_view key);
  std::optional<double> Number(absl::string_view key);
  std::optional<bool> Bool(absl::string_view key);
  // A nested object (absent, null or an object; anything else is a type error).
  ObjectReader Object(absl::string_view key);
  // A field the caller handles itself (returns null when absent).
  const bj::value* Raw(absl::string_view key);
  // Accepts and ignores a field.
  void Ignore(absl::string_view key) { Raw(key); }
  bool present() const { return object_ != nullptr; }

  // Checks for unknown fields, then returns the first recorded error as kInvalidArgument.
  absl::Status Finish();

 private:
  ObjectReader(const bj::object* object, std::string path,
               std::shared_ptr<std::vector<std::string>> errors);
  const bj::value* Lookup(absl::string_view key);
  std::string FieldPath(absl::string_view key) const;
  void TypeError(absl::string_view key, absl::string_view expected);

  const bj::object* object_;
  std::string path_;
  std::vector<std::string> seen_;
  std::shared_ptr<std::vector<std::string>> errors_;
};

// Convenience accessors for reading our own, already validated documents.
std::string GetString(const bj::object& object, absl::string_view key, absl::string_view fallback = "");
int64_t GetInt(const bj::object& object, absl::string_view key, int64_t fallback = 0);
bool GetBool(const bj::object& object, absl::string_view key, bool fallback = false);
const bj::object* GetObject(const bj::object& object, absl::string_view key);
// The strings of a list field (other items and a missing field read as none).
std::vector<std::string> GetStrings(const bj::object& object, absl::string_view key);
bj::array StringArray(const std::vector<std::string>& values);

}  // namespace amlcore::json

#endif  // AMLCORE_COMMON_JSON_H_
