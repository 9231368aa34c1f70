// A home directory written by amlcore 0.1.0 (schema version 2: operations keyed by name, clusters known by a
// front end's port and pid, versions without workload uid or reserved capacity, models without datasets) keeps
// working.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "common/json.h"
#include "cpp/fake_backend.h"
#include "cpp/test_support.h"
#include "domain/service_wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/database.h"
#include "server/store.h"

namespace amlcore {
namespace {
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::Eventually;

constexpr char kSub[] = "00000000-0000-0000-0000-000000000000";
constexpr char kRid[] =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/default/providers/"
    "Microsoft.ContainerService/managedClusters/old-aks-abc123";

// The rows 0.1.0 left for a workspace with a 4-vCPU cluster running one 3-CPU service.
void WriteOldHome(const std::string& home) {
  auto db = server::Database::Open(absl::StrCat(home, "/amlcore.db"));
  ASSERT_TRUE(db.ok()) << db.status();
  const auto& migrations = server::StoreMigrations();
  ASSERT_TRUE((*db)->Migrate({migrations[0], migrations[1]}).ok());

  domain::ServiceRequest request;
  request.name = "old-svc";
  request.compute_name = "old-aks";
  request.entry_script = "score.py";
  request.config.num_replicas = 1;
  request.config.cpu_cores = 3;
  std::string spec = json::Serialize(json::bj::object{
      {"request", *json::Parse(domain::ServiceRequestToJson(request))},
      {"python", "/usr/bin/python3"},
      {"environmentHash", "abc"}});
  std::string t = "2026-01-01T00:00:00.000000+00:00";
  auto status = (*db)->Transaction([&](server::Database::Tx& tx) -> absl::Status {
    std::vector<std::pair<std::string, std::vector<server::SqlValue>>> rows = {
        {"INSERT INTO resource_groups VALUES (?, 'default', 'local', ?)", {kSub, t}},
        {"INSERT INTO workspaces VALUES (1, ?, 'default', 'old-ws', 'local', 'old-ws', '', '{}', ?)", {kSub, t}},
        {"INSERT INTO clusters (id, subscription_id, resource_group, name, location, agent_count, vm_size, lb_type, "
         "lb_subnet, state, created_by_workspace, fe_port, fe_pid, fe_start_time, created, route_generation) "
         "VALUES (1, ?, 'default', 'old-aks-abc123', 'local', 1, 'Standard_D3_v2', 'PublicIp', 'aks-subnet', "
         "'Succeeded', 1, 45678, 4242, 1, ?, 3)",
         {kSub, t}},
        {"INSERT INTO computes VALUES (1, 1, 'old-aks', 1, 0, 'DevTest', 'local', '', '{}', 'Succeeded', '[]', ?, ?)",
         {t, t}},
        {"INSERT INTO operations VALUES ('op-compute', 'ComputeProvision', 1, 1, 'old-aks', 'Succeeded', "
         "'Succeeded', '', '', '{}', 3, ?, ?)",
         {t, t}},
        {"INSERT INTO operations VALUES ('op-service', 'ServiceCreate', 1, 1, 'old-svc', 'Succeeded', "
         "'Succeeded', '', '', '{}', 7, ?, ?)",
         {t, t}},
        {"INSERT INTO operation_log VALUES ('op-service', 1, ?, 'Deploying service old-svc')", {t}},
        {"INSERT INTO services VALUES (1, 1, 'old-svc', 'AksWebservice', 'old-aks', 1, 'Healthy', 'Ready', '', '', "
         "'primary-key-0001', 'secondary-key-0001', '', '{}', '{}', ?, ?)",
         {t, t}},
        {"INSERT INTO service_versions VALUES (1, 1, 'old-svc', ?, 1, ?, 1)", {spec, spec}},
        {"INSERT INTO models VALUES (1, 1, 'old-model', 1, 'from 0.1.0', '{}', '{}', 'ScikitLearn', '1.0', "
         "'[{\"path\": \"model.pkl\", \"sha256\": \"0000\", \"size\": 4}]', ?)",
         {t}},
    };
    for (const auto& [sql, params] : rows) {
      if (auto s = tx.Execute(sql, params); !s.ok()) return s.status();
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(status.ok()) << status;
}

TEST(MigrationTest, AHomeOfTheFirstReleaseKeepsWorking) {
  testing::TempHome home;
  WriteOldHome(home.path());
  testing::FakeBackend fake;
  auto server = server::WorkspaceServer::Start(
      {.home = home.path(), .reconcile_interval = 50ms, .write_server_file = false, .backend = fake.seams()});
  ASSERT_TRUE(server.ok()) << server.status();
  ConnectionOptions connection{.endpoint = (*server)->endpoint(), .token = (*server)->admin_token()};
  auto ws = Workspace::Get("old-ws", {.connection = connection});
  ASSERT_TRUE(ws.ok()) << ws.status();

  // The compute target, its cluster's endpoint, and no operation handed out.
  auto aks = ComputeTarget::Get(*ws, "old-aks");
  ASSERT_TRUE(aks.ok()) << aks.status();
  EXPECT_EQ((*aks)->provisioning_state(), "Succeeded");
  auto service = Webservice::Get(*ws, "old-svc");
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ((*service)->state(), "Healthy");
  EXPECT_TRUE((*service)->operation_id().empty());
  auto keys = (*service)->GetKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->first, "primary-key-0001");

  // A model of then reads with what models keep now (datasets, resources) empty.
  auto model = Model::Get(*ws, "old-model");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->model_framework(), "ScikitLearn");
  EXPECT_EQ(model->model_framework_version(), "1.0");
  EXPECT_TRUE(model->datasets().empty());
  EXPECT_TRUE(model->sample_input_dataset_id().empty());
  EXPECT_FALSE(model->resource_configuration().has_value());

  // The old operation reads in the new shape, keyed by its resource.
  auto op = http::Client("127.0.0.1", (*server)->port())
                .Send([&] {
                  http::Request r{.method = "GET",
                                  .target = absl::StrCat("/modelmanagement/v1.0/subscriptions/", kSub,
                                                         "/resourceGroups/default/providers/"
                                                         "Microsoft.MachineLearningServices/workspaces/old-ws/"
                                                         "operations/op-service")};
                  r.headers.Set("Authorization", absl::StrCat("Bearer ", (*server)->admin_token()));
                  return r;
                }());
  ASSERT_TRUE(op.ok());
  EXPECT_THAT(op->body, HasSubstr(R"("state":"Succeeded")"));
  EXPECT_THAT(op->body, HasSubstr(R"("resourceLocation":"/services/old-svc")"));

  // The cluster's controller gives the backend the service it ran (a new front end does not know it), under the
  // workload uid the migration gave the version.
  ASSERT_TRUE(Eventually([&] { return fake.workloads().size() == 1; }));
  domain::WorkloadSpec w = fake.workloads().begin()->second;
  EXPECT_EQ(w.key.endpoint, "old-svc");
  EXPECT_EQ(w.key.uid.size(), 8u);
  EXPECT_EQ(w.environment_ref, "/usr/bin/python3");
  EXPECT_EQ(w.resources.cpu, 3);

  // The old service holds its 3 CPU: a 2-CPU service waits.
  InferenceConfig inference{.entry_script = "score.py", .source_directory = home.path()};
  std::ofstream(std::filesystem::path(home.path()) / "score.py") << "def init():\n    pass\ndef run(r):\n    return r\n";
  AksServiceDeploymentConfiguration config;
  config.num_replicas = 1;
  config.cpu_cores = 2;
  auto target = AksCompute::Get(*ws, "old-aks");
  ASSERT_TRUE(target.ok());
  auto waiting = AksWebservice::Deploy(*ws, "new-svc", {}, inference, config, **target);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  ASSERT_TRUE(Eventually([&] { return (*waiting)->UpdateDeploymentState().ok() &&
                                      (*waiting)->state() == "Unschedulable"; }));
  EXPECT_THAT((*waiting)->error(), HasSubstr("has 1 CPU and"));
}

}  // namespace
}  // namespace amlcore
