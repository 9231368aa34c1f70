// Deploying from C++: register a model, deploy it as an AKS web service, score it with the service key,
// read its logs, and clean up. Usage: deploy_quickstart <directory with score.py>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "amlcore/amlcore.h"

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << what << " failed: " << status.message() << " [" << amlcore::GetErrorInfo(status).error_code << "]"
            << std::endl;
  return 1;
}

void Print(absl::string_view text) { std::cout << text << std::flush; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: deploy_quickstart <directory with score.py>" << std::endl;
    return 2;
  }
  auto ws = amlcore::Workspace::Create("cpp-deploy-ws", {.exist_ok = true});
  if (!ws.ok()) return Fail("Workspace::Create", ws.status());

  amlcore::AksProvisioningConfiguration small;
  small.agent_count = 1;
  small.cluster_purpose = amlcore::ClusterPurpose::kDevTest;
  auto aks = amlcore::AksCompute::Create(*ws, "cpp-deploy-aks", small);
  if (!aks.ok()) return Fail("AksCompute::Create", aks.status());
  if (auto s = (*aks)->WaitForCompletion({.on_progress = Print}); !s.ok()) return Fail("WaitForCompletion", s);

  // The "model": weights of a linear function, saved as a file and registered.
  std::filesystem::path model_dir = std::filesystem::temp_directory_path() / "amlcore-cpp-model";
  std::filesystem::create_directories(model_dir);
  std::ofstream(model_dir / "weights.json") << "[0.5, -1.0, 2.0]";
  auto model = amlcore::Model::Register(*ws, (model_dir / "weights.json").string(), "linear-weights",
                                        {.tags = {{"kind", "linear"}}});
  if (!model.ok()) return Fail("Model::Register", model.status());
  std::cout << "Registered model " << model->id() << std::endl;

  amlcore::InferenceConfig inference;
  inference.entry_script = "score.py";
  inference.source_directory = argv[1];
  amlcore::AksServiceDeploymentConfiguration config;
  config.num_replicas = 1;
  auto service = amlcore::AksWebservice::Deploy(*ws, "cpp-linear", {*model}, inference, config, **aks,
                                                /*overwrite=*/true);
  if (!service.ok()) return Fail("AksWebservice::Deploy", service.status());
  if (auto s = (*service)->WaitForDeployment({.on_progress = Print}); !s.ok()) return Fail("WaitForDeployment", s);
  std::cout << "Service " << (*service)->name() << " is " << (*service)->state() << " at "
            << (*service)->scoring_uri() << std::endl;

  auto prediction = (*service)->Run(R"({"data": [[1, 2, 3], [4, 5, 6]]})");
  if (!prediction.ok()) return Fail("Run", prediction.status());
  std::cout << "Prediction: " << *prediction << std::endl;

  auto logs = (*service)->GetLogs(20);
  if (!logs.ok()) return Fail("GetLogs", logs.status());
  std::cout << "Service logs:\n" << *logs;

  if (auto s = (*service)->Delete(); !s.ok()) return Fail("Delete", s);
  if (auto s = model->Delete(); !s.ok()) return Fail("Model::Delete", s);
  if (auto s = (*aks)->Delete(); !s.ok()) return Fail("AksCompute::Delete", s);
  if (auto s = (*aks)->WaitForCompletion({.on_progress = Print}, true); !s.ok()) return Fail("Delete wait", s);
  std::filesystem::remove_all(model_dir);
  return 0;
}
