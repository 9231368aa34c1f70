// No-code deployment: Model.deploy(ws, name, [model]) with no inference configuration, for a model registered
// with model_framework ScikitLearn or Onnx. As Azure does, the SDK supplies the entry script and environment:
// the script takes {"data": [[...], ...]} (with "method": "predict_proba" and the like for scikit-learn) and
// answers with a list.
#ifndef AMLCORE_CLIENT_NO_CODE_H_
#define AMLCORE_CLIENT_NO_CODE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"

namespace amlcore::internal {

struct NoCodeDeployment {
  std::string entry_script_name;  // "score.py"
  std::string entry_script;       // its text
  Environment environment;
};

// Frameworks with a default entry script and environment.
bool IsNoCodeFramework(const std::string& framework);
// The script and environment for `models`; kInvalidArgument in azureml's words unless there is exactly one
// model and its framework has a default.
absl::StatusOr<NoCodeDeployment> NoCodeDeploymentFor(const std::vector<Model>& models);

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_NO_CODE_H_
