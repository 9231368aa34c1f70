#include "domain/service_rules.h"

#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace amlcore::domain {
namespace {
bool Lower(char c) { return c >= 'a' && c <= 'z'; }
bool Digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

absl::Status ValidateServiceName(absl::string_view name) {
  bool ok = name.size() >= 3 && name.size() <= 32 && Lower(name.front()) &&
            (Lower(name.back()) || Digit(name.back()));
  for (char c : name) ok = ok && (Lower(c) || Digit(c) || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "Error, provided service name is invalid. It must only consist of lowercase letters, numbers, or dashes, "
      "start with a letter, end with a letter or number, and be between 3 and 32 characters long.");
}

absl::Status ValidateVersionName(absl::string_view name) {
  if (ValidateServiceName(name).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Error, version name '", name,
      "' is invalid. It must only consist of lowercase letters, numbers, or dashes, start with a letter, end with "
      "a letter or number, and be between 3 and 32 characters long."));
}

absl::Status ValidateSnapshotPath(absl::string_view field, absl::string_view path) {
  bool ok = path.size() <= 1024 && !absl::StartsWith(path, "/") && path.find('\0') == absl::string_view::npos &&
            path.find('\\') == absl::string_view::npos;
  for (absl::string_view segment : absl::StrSplit(path, '/')) ok = ok && segment != "..";
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " '", path,
      "' must be a relative path inside the uploaded source directory: no leading '/', no '..' segments, no "
      "backslashes, at most 1024 characters."));
}

absl::Status ValidateModelName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 255 && absl::ascii_isalnum(name.front());
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid model name '", name,
      "'. A model name starts with a letter or digit, continues with letters, digits, dashes, periods and "
      "underscores, and is at most 255 characters long (^[a-zA-Z0-9][a-zA-Z0-9\\-\\._]{0,254}$)."));
}

absl::Status ValidateResourceConfiguration(const ResourceConfiguration& r) {
  std::vector<std::string> errors;
  // NaN (what the Python layer passes for a value that is not a number) fails every comparison.
  if (r.cpu && !(*r.cpu > 0)) errors.push_back("Invalid configuration, cpu must be greater than zero.");
  if (r.memory_in_gb && !(*r.memory_in_gb > 0)) {
    errors.push_back("Invalid configuration, memory_in_gb must be greater than zero.");
  }
  if (r.gpu && (!(*r.gpu > 0) || std::floor(*r.gpu) != *r.gpu)) {
    errors.push_back("Invalid configuration, gpu must be integer and greater than zero.");
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

absl::Status ValidateModelFramework(absl::string_view framework, absl::string_view framework_version) {
  if (framework.empty() && !framework_version.empty()) {
    return absl::InvalidArgumentError("Model framework version cannot be provided without a valid framework");
  }
  return absl::OkStatus();
}

}  // namespace amlcore::domain
