// How results are printed on stdout: -o json (the default, indented as az prints it), -o table
// (aligned columns) and -o tsv (tab-separated values, no headers, strings unquoted: for shell
// scripts).
#ifndef AMLCORE_CLI_OUTPUT_H_
#define AMLCORE_CLI_OUTPUT_H_

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/command.h"

namespace amlcore::cli {

// The text to print for `value`; kInvalidArgument for an unknown format.
absl::StatusOr<std::string> Render(const boost::json::value& value, absl::string_view format,
                                   const std::vector<TableColumn>& columns);

}  // namespace amlcore::cli

#endif  // AMLCORE_CLI_OUTPUT_H_
