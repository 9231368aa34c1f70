// The command table of the `amlcore` command line: every command is one row (its path under
// `amlcore ml`, help, example, table columns, and a function that adds its flags and returns what
// runs it). main.cc builds the CLI11 parser from the rows, so a command, its help and its flags are
// written in one place.
#ifndef AMLCORE_CLI_COMMAND_H_
#define AMLCORE_CLI_COMMAND_H_

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cli/context.h"

namespace amlcore::cli {

using Json = boost::json::value;
// What a command prints on success (null: nothing), or the failure to report.
using Runner = std::function<absl::StatusOr<Json>(Context&)>;

struct TableColumn {
  std::string header;
  std::string path;  // a --query expression evaluated on each row
};

struct Command {
  std::vector<std::string> path;  // e.g. {"model", "deploy"}: `amlcore ml model deploy`
  std::string summary;
  std::string example;             // a command line, shown under "Examples" in --help
  bool uses_workspace = true;      // takes -w/-g/--subscription-id/--path
  std::vector<TableColumn> table;  // columns of -o table (empty: the scalar fields of the result)
  // Adds the command's flags to `app` and returns what runs it with their values.
  std::function<Runner(CLI::App& app)> define;
};

// Help texts of the command groups, by path.
struct Group {
  std::vector<std::string> path;
  std::string summary;
};

std::vector<Command> WorkspaceCommands();
std::vector<Command> ComputeCommands();
std::vector<Command> ModelCommands();
std::vector<Command> ServiceCommands();
std::vector<Group> Groups();

}  // namespace amlcore::cli

#endif  // AMLCORE_CLI_COMMAND_H_
