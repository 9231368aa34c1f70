// `amlcore`: Azure ML's `az ml` (v1) command line over the amlcore C++ SDK. `amlcore ml --help` is
// the reference.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "amlcore/diagnostics.h"
#include "amlcore/version.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/query.h"

namespace amlcore::cli {
namespace {

constexpr int kUsageError = 2;  // as az (argparse) exits for a bad command line
constexpr int kFailure = 1;

// az ml spells a few flags with one dash and several letters (-ic, -dc, -ct); CLI11 reads one dash
// as one letter, so they are read as their two-dash forms.
const std::map<std::string, std::string>& SingleDashAliases() {
  static const auto* aliases = new std::map<std::string, std::string>{
      {"-ic", "--ic"}, {"-dc", "--dc"}, {"-ct", "--ct"}, {"-ev", "--ev"}};
  return *aliases;
}

bool Printable(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

void ShowRestCall(const HttpLogRecord& r) {
  std::string body = r.request_body.empty()      ? ""
                     : Printable(r.request_body) ? r.request_body
                                                 : "<binary content>";
  std::cerr << "DEBUG: " << r.method << " " << r.url << (body.empty() ? "" : "\nDEBUG:   request: ")
            << body << "\n";
  if (r.status == 0) {
    std::cerr << "DEBUG:   no response after " << r.elapsed.count() << " ms: " << r.error << "\n";
    return;
  }
  std::string reply = Printable(r.response_body) ? r.response_body : "<binary content>";
  std::cerr << "DEBUG:   -> " << r.status << " in " << r.elapsed.count() << " ms, x-ms-request-id "
            << r.request_id << (reply.empty() ? "" : "\nDEBUG:   response: ") << reply << std::endl;
}

class CommandLine {
 public:
  CommandLine()
      : root_(
            "amlcore: Azure Machine Learning's `az ml` (v1) commands, run by amlcore on this "
            "machine.",
            "amlcore") {
    root_.set_version_flag("--version", absl::StrCat("amlcore ", kVersion));
    root_.footer("Start with: amlcore ml --help");
    CLI::App* ml = root_.add_subcommand(
        "ml",
        "Azure Machine Learning commands (workspaces, compute targets, models, "
        "services, endpoints).");
    groups_[{}] = ml;
    for (const Group& g : Groups()) GroupApp(g.path)->description(g.summary);
    for (std::vector<Command>* list : {&workspace_, &compute_, &model_, &service_}) {
      for (Command& c : *list) Add(c);
    }
  }

  int Run(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = argc - 1; i > 0; --i) {
      std::string arg = argv[i];
      auto alias = SingleDashAliases().find(arg);
      args.push_back(alias != SingleDashAliases().end() ? alias->second : arg);
    }
    try {
      root_.parse(args);  // CLI11 reports through exceptions; they stop here.
    } catch (const CLI::CallForHelp& e) {
      return root_.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return root_.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return root_.exit(e);
    } catch (const CLI::ParseError& e) {
      std::cerr << "ERROR: " << e.what() << "\n"
                << "Run the command with --help to see what it takes." << std::endl;
      return kUsageError;
    }
    CLI::App* at = &root_;
    while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
    auto leaf = leaves_.find(at);
    if (leaf == leaves_.end()) {
      std::cout << at->help();
      return at == &root_ ? kUsageError : 0;
    }
    Leaf& command = leaf->second;
    if (context_.global.debug) SetHttpLogHook(ShowRestCall);
    auto result = command.runner(context_);
    if (!result.ok()) {
      std::cerr << "ERROR: " << result.status().message() << std::endl;
      return kFailure;
    }
    if (result->is_null() && context_.global.query.empty()) return 0;
    boost::json::value shown = *result;
    if (!context_.global.query.empty()) {
      auto queried = ApplyQuery(shown, context_.global.query);
      if (!queried.ok()) {
        std::cerr << "ERROR: " << queried.status().message() << std::endl;
        return kUsageError;
      }
      shown = std::move(*queried);
    }
    auto text = Render(shown, context_.global.output, command.table);
    if (!text.ok()) {
      std::cerr << "ERROR: " << text.status().message() << std::endl;
      return kUsageError;
    }
    std::cout << *text << std::flush;
    return 0;
  }

 private:
  struct Leaf {
    Runner runner;
    std::vector<TableColumn> table;
  };

  CLI::App* GroupApp(const std::vector<std::string>& path) {
    auto found = groups_.find(path);
    if (found != groups_.end()) return found->second;
    std::vector<std::string> parent(path.begin(), path.end() - 1);
    CLI::App* app = GroupApp(parent)->add_subcommand(path.back(), "");
    groups_[path] = app;
    return app;
  }

  void Add(const Command& c) {
    std::vector<std::string> parent(c.path.begin(), c.path.end() - 1);
    CLI::App* app = GroupApp(parent)->add_subcommand(c.path.back(), c.summary);
    app->footer(absl::StrCat("Example:\n  ", c.example));
    Runner runner = c.define(*app);
    GlobalFlags& g = context_.global;
    if (c.uses_workspace) {
      WorkspaceFlags& w = context_.workspace_flags;
      app->add_option("-w,--workspace-name", w.workspace_name, "Name of the workspace.")
          ->group("Workspace");
      app->add_option("-g,--resource-group", w.resource_group, "Resource group of the workspace.")
          ->group("Workspace");
      app->add_option("--subscription-id", w.subscription_id, "Subscription of the workspace.")
          ->group("Workspace");
      app->add_option("--path", w.path,
                      "Project folder: where to look for .azureml/config.json when -w is not given "
                      "(default: the "
                      "working directory and its parents).")
          ->group("Workspace");
    }
    app->add_option("-o,--output", g.output, "Output format: json (default), table or tsv.")
        ->check(CLI::IsMember({"json", "table", "tsv"}))
        ->group("Global");
    app->add_option("--query", g.query,
                    "A JMESPath subset to pick from the result: name, a.b, [0], [*].name, "
                    "[?state=='Healthy'], "
                    "{n: name}, a | b.")
        ->group("Global");
    app->add_flag("--debug", g.debug, "Show every REST call to amlcored on stderr.")
        ->group("Global");
    app->add_flag("-v,--verbose", g.verbose,
                  "Accepted as az ml's; amlcore always shows progress on stderr.")
        ->group("Global");
    leaves_[app] = Leaf{std::move(runner), c.table};
  }

  CLI::App root_;
  Context context_;
  std::vector<Command> workspace_ = WorkspaceCommands();
  std::vector<Command> compute_ = ComputeCommands();
  std::vector<Command> model_ = ModelCommands();
  std::vector<Command> service_ = ServiceCommands();
  std::map<std::vector<std::string>, CLI::App*> groups_;
  std::map<CLI::App*, Leaf> leaves_;
};

}  // namespace
}  // namespace amlcore::cli

int main(int argc, char** argv) {
  amlcore::cli::CommandLine command_line;
  return command_line.Run(argc, argv);
}
