#include "domain/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace amlcore::domain {
namespace {
constexpr absl::string_view kReservedComputeNames[] = {"amlcompute", "local", "containerinstance"};

bool AllOf(absl::string_view s, bool (*allowed)(char)) {
  for (char c : s) {
    if (!allowed(c)) return false;
  }
  return true;
}
}  // namespace

absl::Status ValidateWorkspaceName(absl::string_view name) {
  bool ok = name.size() >= 3 && name.size() <= 33 && absl::ascii_isalnum(name.front()) &&
            AllOf(name, [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid workspace name '", name,
      "': a workspace name must be 3 to 33 characters long, start with a letter or digit, and contain only "
      "letters, digits, hyphens and underscores."));
}

absl::Status ValidateResourceGroupName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 90 && name.back() != '.' &&
            AllOf(name, [](char c) {
              return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '(' || c == ')';
            });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid resource group name '", name,
      "': a resource group name must be 1 to 90 characters long, contain only letters, digits, hyphens, "
      "underscores, periods and parentheses, and not end with a period."));
}

absl::Status ValidateSubscriptionId(absl::string_view id) {
  bool ok = id.size() == 36;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash ? id[i] == '-' : absl::ascii_isxdigit(id[i]);
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid subscription id '", id,
      "': a subscription id is a GUID such as 00000000-0000-0000-0000-000000000000."));
}

bool IsReservedComputeName(absl::string_view name) {
  for (auto reserved : kReservedComputeNames) {
    if (absl::EqualsIgnoreCase(name, reserved)) return true;
  }
  return false;
}

absl::Status ValidateComputeName(absl::string_view name) {
  bool ok = name.size() >= 3 && name.size() <= 24 && absl::ascii_isalpha(name.front()) &&
            absl::ascii_isalnum(name.back()) &&
            AllOf(name, [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid compute name '", name,
        "': a compute name must be 3 to 24 characters long, contain only letters, digits and hyphens, "
        "start with a letter and end with a letter or digit."));
  }
  if (IsReservedComputeName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid compute name '", name,
                                                   "': the names ", absl::StrJoin(kReservedComputeNames, ", "),
                                                   " are reserved."));
  }
  return absl::OkStatus();
}

absl::Status ValidateClusterName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 63 && absl::ascii_isalnum(name.front()) &&
            absl::ascii_isalnum(name.back()) &&
            AllOf(name, [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid cluster name '", name,
      "': an AKS cluster name must be 1 to 63 characters long, contain only letters, digits, hyphens and "
      "underscores, and start and end with a letter or digit."));
}

}  // namespace amlcore::domain
