// Builds the Python environments scoring replicas run in, and caches them by the environment's hash.
//
// Lookup: a built environment under <home>/environments/<hash> (the machine-wide cache), else a build. A build installs, into a virtual environment
// over the runtime's Python (--system-site-packages), the pip and conda packages that are not already there:
// packages importable in the runtime's Python count as satisfied, and azureml's own serving packages are
// provided by amlcore. With nothing to install, the runtime's Python is used as it is.
#ifndef AMLCORE_BACKEND_LOCAL_ENVIRONMENT_BUILDER_H_
#define AMLCORE_BACKEND_LOCAL_ENVIRONMENT_BUILDER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "amlcore/environment.h"

namespace amlcore::backend::local {

struct BuiltEnvironment {
  std::string python;  // the interpreter replicas use
  bool built = false;  // false: taken from a cache
};

class EnvironmentBuilder {
 public:
  using Log = std::function<void(const std::string& line)>;

  EnvironmentBuilder(std::string home, std::string runtime_python);

  // The environment when it needs no build (user-managed, or built before); nothing when it must be built.
  // Quick: reads a marker file.
  std::optional<absl::StatusOr<BuiltEnvironment>> FromCache(const Environment& environment, const std::string& hash,
                                                            const Log& log);
  // Blocks while it builds (minutes for pip installs): run it off the threads that serve or reconcile.
  absl::StatusOr<BuiltEnvironment> Build(const Environment& environment, const std::string& hash, const Log& log);
  const std::string& runtime_python() const { return runtime_python_; }

 private:
  std::string home_;
  std::string runtime_python_;
  std::string runtime_version_;  // "3.11"
};

}  // namespace amlcore::backend::local

#endif  // AMLCORE_BACKEND_LOCAL_ENVIRONMENT_BUILDER_H_
