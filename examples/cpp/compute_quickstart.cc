// The C++ quick start: create a workspace and an AKS compute target, share the cluster with a second
// workspace, then detach and delete. Every call returns absl::Status / absl::StatusOr; nothing throws.
#include <iostream>
#include <string>

#include "amlcore/amlcore.h"

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  amlcore::ErrorInfo info = amlcore::GetErrorInfo(status);
  std::cerr << what << " failed: " << status.message() << " [" << info.error_code << "]" << std::endl;
  return 1;
}

void Print(absl::string_view text) { std::cout << text << std::flush; }

}  // namespace

int main() {
  auto ws = amlcore::Workspace::Create("cpp-quickstart-ws", {.exist_ok = true});
  if (!ws.ok()) return Fail("Workspace::Create", ws.status());
  std::cout << "Workspace: " << ws->name() << " in " << ws->resource_group() << std::endl;

  amlcore::AksProvisioningConfiguration config;  // the defaults: 3 x Standard_D3_v2, FastProd
  auto aks = amlcore::AksCompute::Create(*ws, "cpp-aks", config);
  if (!aks.ok()) return Fail("AksCompute::Create", aks.status());
  if (auto s = (*aks)->WaitForCompletion({.on_progress = Print}); !s.ok()) return Fail("WaitForCompletion", s);
  std::cout << "Cluster " << (*aks)->cluster_resource_id() << "\n  " << *(*aks)->agent_count() << " x "
            << (*aks)->agent_vm_size() << ", " << (*aks)->cluster_purpose() << ", front end at "
            << (*aks)->scoring_endpoint() << std::endl;

  auto team = amlcore::Workspace::Create("cpp-quickstart-team-ws", {.exist_ok = true});
  if (!team.ok()) return Fail("Workspace::Create", team.status());
  auto shared = amlcore::AksCompute::Attach(*team, "cpp-shared", {.resource_id = (*aks)->cluster_resource_id()});
  if (!shared.ok()) return Fail("AksCompute::Attach", shared.status());
  if (auto s = (*shared)->WaitForCompletion({.on_progress = Print}); !s.ok()) return Fail("Attach wait", s);
  std::cout << "Attached to " << team->name() << " as " << (*shared)->name() << std::endl;

  if (auto s = (*shared)->Detach(); !s.ok()) return Fail("Detach", s);
  if (auto s = (*shared)->WaitForCompletion({.on_progress = Print}, true); !s.ok()) return Fail("Detach wait", s);
  if (auto s = (*aks)->Delete(); !s.ok()) return Fail("Delete", s);
  if (auto s = (*aks)->WaitForCompletion({.on_progress = Print}, true); !s.ok()) return Fail("Delete wait", s);
  auto left = ws->ComputeTargets();
  if (!left.ok()) return Fail("ComputeTargets", left.status());
  std::cout << "Compute targets left in " << ws->name() << ": " << left->size() << std::endl;
  return 0;
}
