// Conversions shared by the command modules: flag values (key=value pairs, true/false) and SDK
// results as JSON.
#ifndef AMLCORE_CLI_VALUES_H_
#define AMLCORE_CLI_VALUES_H_

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/model.h"
#include "amlcore/workspace.h"

namespace amlcore::cli {

// "key=value" items of a repeatable flag (--tag, --property); kInvalidArgument naming the flag
// otherwise.
absl::StatusOr<std::map<std::string, std::string>> KeyValues(const std::vector<std::string>& items,
                                                             absl::string_view flag);
// az's boolean flag values: true/false (any case), also yes/no and 1/0.
absl::StatusOr<bool> ParseBool(absl::string_view text, absl::string_view flag);
// The content of a text file (a PEM certificate, a request body).
absl::StatusOr<std::string> ReadTextFile(const std::string& path);
// A JSON document the SDK returned (Serialize()), as a value to print.
boost::json::value JsonDocument(const std::string& text);
boost::json::value StringMap(const std::map<std::string, std::string>& map);
boost::json::value WorkspaceJson(const Workspace& ws);
boost::json::value ModelJson(const Model& model);

}  // namespace amlcore::cli

#endif  // AMLCORE_CLI_VALUES_H_
