#include "client/no_code.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace amlcore::internal {
namespace {

// Shared by both scripts: the model's file under AZUREML_MODEL_DIR (<app>/azureml-models/<name>/<version>,
// which holds the registered file, or a folder with one file in it).
constexpr char kFindModelFile[] = R"PY(
def _model_file():
    root = os.environ["AZUREML_MODEL_DIR"]
    files = []
    for directory, _, names in os.walk(root):
        files.extend(os.path.join(directory, n) for n in sorted(names))
    if len(files) != 1:
        raise RuntimeError("A no-code deployment takes a model of one file; {} has {}.".format(root, len(files)))
    return files[0]
)PY";

constexpr char kScikitLearnScript[] = R"PY(# The entry script amlcore supplies for a scikit-learn model deployed without one (no-code deployment).
# Request: {"data": [[feature, ...], ...], "method": "predict"}; "method" may also be "predict_proba",
# "predict_log_proba", "decision_function" or "transform". Answer: a list, one entry per row.
import json
import os

import joblib
import numpy

model = None
_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")
)PY"
                                         "%FIND%"
                                         R"PY(

def init():
    global model
    model = joblib.load(_model_file())


def run(raw_data):
    request = json.loads(raw_data)
    data = request.get("data") if isinstance(request, dict) else request
    method = request.get("method", "predict") if isinstance(request, dict) else "predict"
    if method not in _METHODS or not hasattr(model, method):
        raise ValueError("method must be one of {} that the model has, not {!r}".format(", ".join(_METHODS), method))
    return getattr(model, method)(numpy.asarray(data)).tolist()
)PY";

constexpr char kOnnxScript[] = R"PY(# The entry script amlcore supplies for an ONNX model deployed without one (no-code deployment).
# Request: {"data": [...]} for the model's first input (as float32), or {"<input name>": [...], ...} for
# several. Answer: the model's first output as a list.
import json
import os

import numpy
import onnxruntime

session = None
)PY"
                                   "%FIND%"
                                   R"PY(

def init():
    global session
    session = onnxruntime.InferenceSession(_model_file(), providers=["CPUExecutionProvider"])


def run(raw_data):
    request = json.loads(raw_data)
    inputs = session.get_inputs()
    if isinstance(request, dict) and "data" in request:
        feeds = {inputs[0].name: numpy.asarray(request["data"], dtype=numpy.float32)}
    elif isinstance(request, dict):
        feeds = {name: numpy.asarray(value, dtype=numpy.float32) for name, value in request.items()}
    else:
        feeds = {inputs[0].name: numpy.asarray(request, dtype=numpy.float32)}
    return session.run(None, feeds)[0].tolist()
)PY";

std::string WithModelFinder(const char* script) {
  std::string text(script);
  size_t at = text.find("%FIND%");
  return text.replace(at, 6, kFindModelFile);
}

std::string Pinned(const std::string& package, const std::string& version) {
  return version.empty() ? package : absl::StrCat(package, "==", version);
}
}  // namespace

bool IsNoCodeFramework(const std::string& framework) {
  return framework == ModelFramework::kScikitLearn || framework == ModelFramework::kOnnx;
}

absl::StatusOr<NoCodeDeployment> NoCodeDeploymentFor(const std::vector<Model>& models) {
  if (models.size() != 1) {
    return MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", absl::StrCat("You must provide an InferenceConfig when deploying ", models.size(),
                                " models; a deployment without one (no-code deployment) takes exactly one model."));
  }
  const Model& model = models.front();
  const std::string& framework = model.model_framework();
  if (!IsNoCodeFramework(framework)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", absl::StrCat("You must provide an InferenceConfig when deploying a model with model_framework set "
                                "to ", framework.empty() ? "None" : framework,
                                ". Default environments are only provided for these frameworks: ",
                                ModelFramework::kScikitLearn, ", ", ModelFramework::kOnnx, "."));
  }
  NoCodeDeployment out;
  out.entry_script_name = "score.py";
  Environment& env = out.environment;
  env.name = absl::StrCat("amlcore-", framework == ModelFramework::kOnnx ? "onnx" : "scikit-learn", "-no-code");
  CondaDependencies conda;
  if (framework == ModelFramework::kScikitLearn) {
    out.entry_script = WithModelFinder(kScikitLearnScript);
    conda.pip_packages = {Pinned("scikit-learn", model.model_framework_version()), "joblib", "numpy"};
  } else {
    out.entry_script = WithModelFinder(kOnnxScript);
    conda.pip_packages = {Pinned("onnxruntime", model.model_framework_version()), "numpy"};
  }
  env.python.conda_dependencies = std::move(conda);
  return out;
}

}  // namespace amlcore::internal
