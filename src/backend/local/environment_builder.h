// Builds the Python environments scoring replicas run in, and caches them by the environment's hash.
//
// Lookup: a built environment under <home>/environments/<hash> (the machine-wide cache), else a build. A build
// decides for each pip and conda requirement (DecideRequirement): the distributions amlcore's replica runtime
// ships are provided by amlcore, a requirement the runtime's Python satisfies is used from there, and every other
// one is installed with pip into a virtual environment over the runtime's Python (--system-site-packages). With
// nothing to install, the runtime's Python is used as it is. A requirement pip cannot install fails the build,
// unless the server runs with offline environments (AMLCORE_OFFLINE_ENVIRONMENTS=1) and the runtime's Python has
// another version of it: that version is then used, and the operation log and each replica's log warn about it.
//
//   EnvironmentBuilder builder(home, "/usr/bin/python3", /*offline_environments=*/false);
//   auto built = builder.Build(environment, hash, [](const std::string& line) { std::cerr << line << "\n"; });
#ifndef AMLCORE_BACKEND_LOCAL_ENVIRONMENT_BUILDER_H_
#define AMLCORE_BACKEND_LOCAL_ENVIRONMENT_BUILDER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/environment.h"

namespace amlcore::backend::local {

// One requirement of an environment, and what the runtime's Python has of it.
struct ProbedRequirement {
  std::string text;       // as the environment states it: "scikit-learn==0.22.1", conda's "numpy=1.24"
  std::string pip_spec;   // the same in pip's terms: "numpy==1.24.*"
  std::string name;       // the distribution it names
  std::string installed;  // the version of it the runtime's Python has; "" for none
  bool matches = false;   // `installed` satisfies the requirement
};

enum class RequirementAction {
  kProvided,     // amlcore's replica runtime ships the modules the distribution stands for
  kSatisfied,    // the runtime's Python has a version that satisfies it
  kInstall,      // pip installs it into the environment's virtual environment
  kSubstitute,   // pip could not; the runtime's own version is used, with a warning (offline environments)
  kUnavailable,  // pip could not, and nothing may stand in for it: the build fails
};

// What a build does with `requirement`: before pip runs `pip_failed` is false; it is true for the requirements
// pip was asked for and could not install. `offline_environments`: AMLCORE_OFFLINE_ENVIRONMENTS=1.
RequirementAction DecideRequirement(const ProbedRequirement& requirement, bool pip_failed,
                                    bool offline_environments);

// True for the distributions whose modules amlcore's replica runtime ships (azureml-defaults, azureml-core,
// inference-schema, ...); every other one, azureml's included, is a requirement like any.
bool ProvidedByAmlcore(absl::string_view distribution);

// Conda's match specification in pip's terms: "name=1.0" means any 1.0.x, "name=1.0=build" exactly 1.0.
std::string CondaToPip(absl::string_view spec);

// What the operation log and the replica's log say about a substituted requirement.
std::string SubstitutionWarning(const ProbedRequirement& requirement);
// Why a requirement pip could not install fails the build: what the runtime's Python has instead, if anything.
std::string UnavailableExplanation(const ProbedRequirement& requirement);

struct BuiltEnvironment {
  std::string python;  // the interpreter replicas use
  bool built = false;  // false: taken from a cache
  // One SubstitutionWarning per requirement the environment does not honour (offline environments only).
  std::vector<std::string> warnings;
};

class EnvironmentBuilder {
 public:
  using Log = std::function<void(const std::string& line)>;

  EnvironmentBuilder(std::string home, std::string runtime_python, bool offline_environments);

  // The environment when it needs no build (user-managed, or built before); nothing when it must be built.
  // Quick: reads a marker file. An environment built with substitutions is not reused by a server that does not
  // allow them: building it again fails it as it should.
  std::optional<absl::StatusOr<BuiltEnvironment>> FromCache(const Environment& environment, const std::string& hash,
                                                            const Log& log);
  // Blocks while it builds (minutes for pip installs): run it off the threads that serve or reconcile.
  absl::StatusOr<BuiltEnvironment> Build(const Environment& environment, const std::string& hash, const Log& log);
  // The substitution warnings of the environment built for `hash` (none when it was not built, or honours every
  // requirement), which its replicas print when they start.
  std::vector<std::string> Warnings(const std::string& hash) const;
  const std::string& runtime_python() const { return runtime_python_; }

 private:
  std::string home_;
  std::string runtime_python_;
  std::string runtime_version_;  // "3.11"
  bool offline_environments_ = false;
};

}  // namespace amlcore::backend::local

#endif  // AMLCORE_BACKEND_LOCAL_ENVIRONMENT_BUILDER_H_
