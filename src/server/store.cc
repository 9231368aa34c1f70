#include "server/store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json.h"
#include "domain/aks_rules.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;

const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE resource_groups (
  subscription_id TEXT NOT NULL COLLATE NOCASE,
  name TEXT NOT NULL COLLATE NOCASE,
  location TEXT NOT NULL,
  created TEXT NOT NULL,
  PRIMARY KEY (subscription_id, name));
CREATE TABLE workspaces (
  id INTEGER PRIMARY KEY,
  subscription_id TEXT NOT NULL COLLATE NOCASE,
  resource_group TEXT NOT NULL COLLATE NOCASE,
  name TEXT NOT NULL COLLATE NOCASE,
  location TEXT NOT NULL,
  friendly_name TEXT NOT NULL,
  description TEXT NOT NULL,
  tags TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (subscription_id, resource_group, name));
CREATE TABLE clusters (
  id INTEGER PRIMARY KEY,
  subscription_id TEXT NOT NULL COLLATE NOCASE,
  resource_group TEXT NOT NULL COLLATE NOCASE,
  name TEXT NOT NULL COLLATE NOCASE,
  location TEXT NOT NULL,
  agent_count INTEGER NOT NULL,
  vm_size TEXT NOT NULL,
  ssl TEXT,
  networking TEXT,
  lb_type TEXT NOT NULL,
  lb_subnet TEXT NOT NULL,
  state TEXT NOT NULL,
  created_by_workspace INTEGER NOT NULL,
  fe_port INTEGER NOT NULL,
  fe_pid INTEGER NOT NULL,
  fe_start_time INTEGER NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (subscription_id, resource_group, name));
CREATE TABLE computes (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL COLLATE NOCASE,
  cluster_id INTEGER NOT NULL REFERENCES clusters(id),
  is_attached INTEGER NOT NULL,
  cluster_purpose TEXT NOT NULL,
  location TEXT NOT NULL,
  description TEXT NOT NULL,
  tags TEXT NOT NULL,
  provisioning_state TEXT NOT NULL,
  provisioning_errors TEXT NOT NULL,
  created TEXT NOT NULL,
  modified TEXT NOT NULL,
  UNIQUE (workspace_id, name),
  UNIQUE (workspace_id, cluster_id));
CREATE TABLE operations (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  workspace_id INTEGER NOT NULL,
  target_id INTEGER NOT NULL,
  target_name TEXT NOT NULL COLLATE NOCASE,
  status TEXT NOT NULL,
  phase TEXT NOT NULL,
  error_code TEXT NOT NULL,
  error_message TEXT NOT NULL,
  payload TEXT NOT NULL,
  version INTEGER NOT NULL,
  created TEXT NOT NULL,
  ended TEXT NOT NULL);
CREATE INDEX operations_by_status ON operations (status);
CREATE INDEX operations_by_target ON operations (workspace_id, target_name);
CREATE TABLE operation_log (
  operation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time TEXT NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (operation_id, seq));
)sql",
    R"sql(
ALTER TABLE clusters ADD COLUMN route_generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL COLLATE NOCASE,
  version INTEGER NOT NULL,
  description TEXT NOT NULL,
  tags TEXT NOT NULL,
  properties TEXT NOT NULL,
  framework TEXT NOT NULL,
  framework_version TEXT NOT NULL,
  files TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (workspace_id, name, version));
CREATE TABLE environment_builds (
  hash TEXT NOT NULL,
  workspace_id INTEGER NOT NULL,
  created TEXT NOT NULL,
  PRIMARY KEY (hash, workspace_id));
CREATE TABLE environments (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (workspace_id, name, version));
CREATE TABLE services (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
  name TEXT NOT NULL COLLATE NOCASE,
  kind TEXT NOT NULL,
  compute_name TEXT NOT NULL,
  cluster_id INTEGER NOT NULL,
  state TEXT NOT NULL,
  phase TEXT NOT NULL,
  reason TEXT NOT NULL,
  error TEXT NOT NULL,
  primary_key TEXT NOT NULL,
  secondary_key TEXT NOT NULL,
  description TEXT NOT NULL,
  tags TEXT NOT NULL,
  properties TEXT NOT NULL,
  created TEXT NOT NULL,
  updated TEXT NOT NULL,
  UNIQUE (workspace_id, name));
CREATE TABLE service_versions (
  id INTEGER PRIMARY KEY,
  service_id INTEGER NOT NULL REFERENCES services(id),
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  revision INTEGER NOT NULL,
  live_spec TEXT NOT NULL,
  live_revision INTEGER NOT NULL,
  UNIQUE (service_id, name));
)sql",
    // Operations keyed by resource kind and id; clusters known by their router's endpoint instead of a process;
    // versions with a workload uid, a deployment phase and the capacity they hold.
    R"sql(
ALTER TABLE operations RENAME COLUMN target_id TO resource_id;
ALTER TABLE operations RENAME COLUMN target_name TO resource_name;
ALTER TABLE operations ADD COLUMN resource_kind TEXT NOT NULL DEFAULT '';
UPDATE operations SET resource_kind = CASE WHEN type LIKE 'Compute%' THEN 'compute' ELSE 'service' END;
DROP INDEX operations_by_target;
CREATE INDEX operations_by_resource ON operations (resource_kind, resource_id, status);
ALTER TABLE clusters ADD COLUMN scoring_endpoint TEXT NOT NULL DEFAULT '';
UPDATE clusters SET scoring_endpoint = 'http://127.0.0.1:' || fe_port WHERE fe_port != 0;
ALTER TABLE service_versions ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE service_versions SET uid = lower(hex(randomblob(4)));
ALTER TABLE service_versions ADD COLUMN phase TEXT NOT NULL DEFAULT '';
ALTER TABLE service_versions ADD COLUMN phase_started TEXT NOT NULL DEFAULT '';
ALTER TABLE service_versions ADD COLUMN schedule_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_versions ADD COLUMN reserved_cpu REAL NOT NULL DEFAULT -1;
ALTER TABLE service_versions ADD COLUMN reserved_memory_gb REAL NOT NULL DEFAULT -1;
)sql",
    // Versions route and report on their own, for endpoints with several.
    R"sql(
ALTER TABLE service_versions ADD COLUMN traffic_percentile INTEGER NOT NULL DEFAULT 0;
ALTER TABLE service_versions ADD COLUMN is_default INTEGER NOT NULL DEFAULT 1;
ALTER TABLE service_versions ADD COLUMN version_type TEXT NOT NULL DEFAULT '';
ALTER TABLE service_versions ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE service_versions ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE service_versions ADD COLUMN error TEXT NOT NULL DEFAULT '';
ALTER TABLE service_versions ADD COLUMN created TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN endpoint_config TEXT NOT NULL DEFAULT '{}';
UPDATE service_versions SET
  state = (SELECT state FROM services WHERE services.id = service_versions.service_id),
  reason = (SELECT reason FROM services WHERE services.id = service_versions.service_id),
  error = (SELECT error FROM services WHERE services.id = service_versions.service_id),
  created = (SELECT created FROM services WHERE services.id = service_versions.service_id);
)sql",
    // Token authentication: the keys that sign tokens (the newest unretired one signs; retired ones are published
    // until their last token expires) and the server's own settings, such as its issuer name.
    R"sql(
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  private_pem TEXT NOT NULL,
  public_pem TEXT NOT NULL,
  created INTEGER NOT NULL,
  retired INTEGER NOT NULL DEFAULT 0,
  published_until INTEGER NOT NULL DEFAULT 0);
CREATE TABLE server_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL);
)sql",
    // ACI and local web services run in container groups of their own: clusters of another kind, some on a
    // fixed port.
    R"sql(
ALTER TABLE clusters ADD COLUMN kind TEXT NOT NULL DEFAULT 'AKS';
ALTER TABLE clusters ADD COLUMN port INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clusters ADD COLUMN dns_name_label TEXT NOT NULL DEFAULT '';
)sql",
    // Datastores' files (paths naming blobs), saved dataset definitions and their registrations (versioned per
    // name), and what models keep of azureml's datasets and resource configuration.
    R"sql(
CREATE TABLE datastore_files (
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  datastore TEXT NOT NULL COLLATE NOCASE,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  modified TEXT NOT NULL,
  PRIMARY KEY (workspace_id, datastore, path));
CREATE TABLE saved_datasets (
  id TEXT PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  definition TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name TEXT NOT NULL COLLATE NOCASE,
  version INTEGER NOT NULL,
  saved_id TEXT NOT NULL,
  description TEXT NOT NULL,
  tags TEXT NOT NULL,
  created TEXT NOT NULL,
  UNIQUE (workspace_id, name, version));
CREATE INDEX datasets_by_saved_id ON datasets (saved_id);
ALTER TABLE models ADD COLUMN datasets TEXT NOT NULL DEFAULT '[]';
ALTER TABLE models ADD COLUMN sample_input_data TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN sample_output_data TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN resource_requirements TEXT NOT NULL DEFAULT '';
)sql",
    R"sql(
ALTER TABLE clusters ADD COLUMN access_log INTEGER NOT NULL DEFAULT 0;
)sql",
    R"sql(
ALTER TABLE clusters ADD COLUMN kubernetes TEXT NOT NULL DEFAULT '';
)sql",
};

SqlValue SslToValue(const std::optional<SslConfiguration>& ssl) {
  if (!ssl) return nullptr;
  return json::Serialize(domain::SslConfigurationToJson(*ssl, /*include_key=*/true));
}

std::optional<SslConfiguration> SslFromRow(const Row& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  auto parsed = json::Parse(row.Text(column));
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const auto& o = parsed->as_object();
  SslConfiguration ssl;
  ssl.status = json::GetString(o, "status");
  ssl.cert = json::GetString(o, "cert");
  ssl.key = json::GetString(o, "key");
  ssl.cname = json::GetString(o, "cname");
  ssl.leaf_domain_label = json::GetString(o, "leafDomainLabel");
  ssl.overwrite_existing_domain = json::GetBool(o, "overwriteExistingDomain");
  ssl.certificate_authority_file = json::GetString(o, "certificateAuthorityFile");
  return ssl;
}

SqlValue NetworkingToValue(const std::optional<domain::AksNetworking>& n) {
  if (!n) return nullptr;
  return json::Serialize(bj::object{{"subnetId", n->subnet_id},
                                    {"serviceCidr", n->service_cidr},
                                    {"dnsServiceIP", n->dns_service_ip},
                                    {"dockerBridgeCidr", n->docker_bridge_cidr}});
}

std::optional<domain::AksNetworking> NetworkingFromRow(const Row& row, int column) {
  if (row.IsNull(column)) return std::nullopt;
  auto parsed = json::Parse(row.Text(column));
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const auto& o = parsed->as_object();
  return domain::AksNetworking{json::GetString(o, "subnetId"), json::GetString(o, "serviceCidr"),
                               json::GetString(o, "dnsServiceIP"), json::GetString(o, "dockerBridgeCidr")};
}

std::string ErrorsToText(const std::vector<ProvisioningError>& errors) {
  bj::array list;
  for (const auto& e : errors) list.push_back(bj::object{{"code", e.code}, {"message", e.message}});
  return json::Serialize(list);
}

std::vector<ProvisioningError> ErrorsFromText(const std::string& text) {
  std::vector<ProvisioningError> out;
  auto parsed = json::Parse(text);
  if (parsed.ok() && parsed->is_array()) {
    for (const auto& e : parsed->as_array()) {
      if (e.is_object()) {
        out.push_back({json::GetString(e.as_object(), "code"), json::GetString(e.as_object(), "message")});
      }
    }
  }
  return out;
}

constexpr char kWorkspaceColumns[] =
    "id, subscription_id, resource_group, name, location, friendly_name, description, tags, created";

WorkspaceRecord WorkspaceFromRow(const Row& r) {
  return WorkspaceRecord{r.Int(0),  r.Text(1), r.Text(2),  r.Text(3), r.Text(4),
                         r.Text(5), r.Text(6), MapFromText(r.Text(7)), r.Text(8)};
}

constexpr char kClusterColumns[] =
    "id, subscription_id, resource_group, name, location, agent_count, vm_size, ssl, networking, lb_type, "
    "lb_subnet, state, created_by_workspace, scoring_endpoint, created, route_generation, kind, port, dns_name_label, "
    "access_log, kubernetes";

SqlValue KubernetesToValue(const std::optional<domain::KubernetesTarget>& k) {
  return k ? json::Serialize(domain::KubernetesTargetToJson(*k)) : std::string();
}

std::optional<domain::KubernetesTarget> KubernetesFromRow(const Row& row, int column) {
  if (row.Text(column).empty()) return std::nullopt;
  auto parsed = json::ParseObject(row.Text(column), "kubernetes");
  if (!parsed.ok()) return std::nullopt;
  return domain::KubernetesTarget{json::GetString(*parsed, "kubeconfig"), json::GetString(*parsed, "context"),
                                  json::GetString(*parsed, "namespace"), json::GetString(*parsed, "image")};
}

ClusterRecord ClusterFromRow(const Row& r) {
  ClusterRecord c;
  c.id = r.Int(0);
  c.subscription_id = r.Text(1);
  c.resource_group = r.Text(2);
  c.name = r.Text(3);
  c.location = r.Text(4);
  c.agent_count = r.Int(5);
  c.vm_size = r.Text(6);
  c.ssl = SslFromRow(r, 7);
  c.networking = NetworkingFromRow(r, 8);
  c.load_balancer_type = r.Text(9);
  c.load_balancer_subnet = r.Text(10);
  c.state = r.Text(11);
  c.created_by_workspace = r.Int(12);
  c.scoring_endpoint = r.Text(13);
  c.created = r.Text(14);
  c.route_generation = r.Int(15);
  c.kind = r.Text(16);
  c.port = r.Int(17);
  c.dns_name_label = r.Text(18);
  c.access_log = r.Int(19) != 0;
  c.kubernetes = KubernetesFromRow(r, 20);
  return c;
}

constexpr char kComputeColumns[] =
    "id, workspace_id, name, cluster_id, is_attached, cluster_purpose, location, description, tags, "
    "provisioning_state, provisioning_errors, created, modified";

ComputeRecord ComputeFromRow(const Row& r) {
  ComputeRecord c;
  c.id = r.Int(0);
  c.workspace_id = r.Int(1);
  c.name = r.Text(2);
  c.cluster_id = r.Int(3);
  c.is_attached = r.Int(4) != 0;
  c.cluster_purpose = r.Text(5);
  c.location = r.Text(6);
  c.description = r.Text(7);
  c.tags = MapFromText(r.Text(8));
  c.provisioning_state = r.Text(9);
  c.provisioning_errors = ErrorsFromText(r.Text(10));
  c.created = r.Text(11);
  c.modified = r.Text(12);
  return c;
}

constexpr char kOperationColumns[] =
    "id, type, workspace_id, resource_kind, resource_id, resource_name, status, phase, error_code, error_message, "
    "payload, version, created, ended";

OperationRecord OperationFromRow(const Row& r) {
  OperationRecord o;
  o.id = r.Text(0);
  o.type = r.Text(1);
  o.workspace_id = r.Int(2);
  o.resource_kind = r.Text(3);
  o.resource_id = r.Int(4);
  o.resource_name = r.Text(5);
  o.status = r.Text(6);
  o.phase = r.Text(7);
  o.error_code = r.Text(8);
  o.error_message = r.Text(9);
  o.payload = r.Text(10);
  o.version = r.Int(11);
  o.created = r.Text(12);
  o.ended = r.Text(13);
  return o;
}

absl::Status Changed(absl::StatusOr<int64_t> changes) { return changes.status(); }

}  // namespace

std::string MapToText(const std::map<std::string, std::string>& map) { return json::Serialize(domain::TagsToJson(map)); }

std::map<std::string, std::string> MapFromText(const std::string& text) {
  std::map<std::string, std::string> out;
  if (auto parsed = json::Parse(text); parsed.ok()) (void)domain::ReadStringMap(&*parsed, "", &out);
  return out;
}

std::string NowTimestamp() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", absl::Now(), absl::UTCTimeZone());
}

absl::Time ParseTimestamp(absl::string_view timestamp) {
  absl::Time t;
  std::string error;
  return absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", timestamp, &t, &error) ? t : absl::UnixEpoch();
}

namespace {
constexpr std::pair<const char*, const char*> kComputeTypes[] = {
    {ServiceKind::kWebservice, "AKS"},
    {ServiceKind::kEndpoint, "AKSENDPOINT"},
    {ServiceKind::kAciWebservice, "ACI"},
    {ServiceKind::kLocalWebservice, "Local"},
};
}  // namespace

const char* ComputeTypeOfKind(absl::string_view kind) {
  for (const auto& [k, type] : kComputeTypes) {
    if (kind == k) return type;
  }
  return "AKS";
}

const char* KindOfComputeType(absl::string_view compute_type) {
  for (const auto& [kind, type] : kComputeTypes) {
    if (compute_type == type) return kind;
  }
  return ServiceKind::kWebservice;
}

std::string ClusterRecord::resource_id() const {
  if (is_container_group()) {
    return absl::StrCat("/subscriptions/", subscription_id, "/resourceGroups/", resource_group,
                        "/providers/Microsoft.ContainerInstance/containerGroups/", name);
  }
  return domain::FormatClusterResourceId({subscription_id, resource_group, name});
}

const std::vector<std::string>& StoreMigrations() { return kMigrations; }

absl::Status Store::Initialize() { return db_->Migrate(kMigrations); }

absl::StatusOr<bool> Store::ResourceGroupExists(Tx& tx, const std::string& subscription, const std::string& name) {
  bool found = false;
  auto s = tx.Query("SELECT 1 FROM resource_groups WHERE subscription_id = ? AND name = ?", {subscription, name},
                    [&](const Row&) { found = true; });
  if (!s.ok()) return s;
  return found;
}

absl::Status Store::EnsureResourceGroup(Tx& tx, const std::string& subscription, const std::string& name,
                                        const std::string& location) {
  return Changed(tx.Execute(
      "INSERT OR IGNORE INTO resource_groups (subscription_id, name, location, created) VALUES (?, ?, ?, ?)",
      {subscription, name, location, NowTimestamp()}));
}

absl::StatusOr<std::optional<WorkspaceRecord>> Store::FindWorkspace(Tx& tx, const std::string& subscription,
                                                                    const std::string& resource_group,
                                                                    const std::string& name) {
  return QueryOne<WorkspaceRecord>(
      tx,
      absl::StrCat("SELECT ", kWorkspaceColumns,
                   " FROM workspaces WHERE subscription_id = ? AND resource_group = ? AND name = ?"),
      {subscription, resource_group, name}, WorkspaceFromRow);
}

absl::StatusOr<std::vector<WorkspaceRecord>> Store::ListWorkspaces(Tx& tx, const std::string& subscription,
                                                                   const std::string& resource_group) {
  return QueryAll<WorkspaceRecord>(
      tx,
      absl::StrCat("SELECT ", kWorkspaceColumns,
                   " FROM workspaces WHERE (? = '' OR subscription_id = ?) AND (? = '' OR resource_group = ?)"
                   " ORDER BY name"),
      {subscription, subscription, resource_group, resource_group}, WorkspaceFromRow);
}

absl::StatusOr<std::vector<WorkspaceRecord>> Store::FindWorkspacesByName(Tx& tx, const std::string& name) {
  return QueryAll<WorkspaceRecord>(
      tx, absl::StrCat("SELECT ", kWorkspaceColumns, " FROM workspaces WHERE name = ? ORDER BY id"), {name},
      WorkspaceFromRow);
}

absl::StatusOr<int64_t> Store::InsertWorkspace(Tx& tx, const WorkspaceRecord& w) {
  auto changes = tx.Execute(
      "INSERT INTO workspaces (subscription_id, resource_group, name, location, friendly_name, description, "
      "tags, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {w.subscription_id, w.resource_group, w.name, w.location, w.friendly_name, w.description,
       MapToText(w.tags), w.created});
  if (!changes.ok()) return changes.status();
  return tx.LastInsertId();
}

absl::Status Store::UpdateWorkspace(Tx& tx, const WorkspaceRecord& w) {
  return Changed(tx.Execute("UPDATE workspaces SET friendly_name = ?, description = ?, tags = ? WHERE id = ?",
                            {w.friendly_name, w.description, MapToText(w.tags), w.id}));
}

absl::Status Store::DeleteWorkspace(Tx& tx, int64_t id) {
  return Changed(tx.Execute("DELETE FROM workspaces WHERE id = ?", {id}));
}

absl::StatusOr<std::optional<ClusterRecord>> Store::FindCluster(Tx& tx, const std::string& subscription,
                                                                const std::string& resource_group,
                                                                const std::string& name) {
  return QueryOne<ClusterRecord>(
      tx,
      absl::StrCat("SELECT ", kClusterColumns,
                   " FROM clusters WHERE subscription_id = ? AND resource_group = ? AND name = ? AND kind = ?"),
      {subscription, resource_group, name, std::string(ClusterKind::kAks)}, ClusterFromRow);
}

absl::StatusOr<std::optional<ClusterRecord>> Store::GetCluster(Tx& tx, int64_t id) {
  return QueryOne<ClusterRecord>(tx, absl::StrCat("SELECT ", kClusterColumns, " FROM clusters WHERE id = ?"), {id},
                                 ClusterFromRow);
}

absl::StatusOr<std::vector<ClusterRecord>> Store::ListClusters(Tx& tx) {
  return QueryAll<ClusterRecord>(tx, absl::StrCat("SELECT ", kClusterColumns, " FROM clusters ORDER BY id"), {},
                                 ClusterFromRow);
}

absl::StatusOr<int64_t> Store::InsertCluster(Tx& tx, const ClusterRecord& c) {
  auto changes = tx.Execute(
      "INSERT INTO clusters (subscription_id, resource_group, name, location, agent_count, vm_size, ssl, "
      "networking, lb_type, lb_subnet, state, created_by_workspace, fe_port, fe_pid, fe_start_time, "
      "scoring_endpoint, created, kind, port, dns_name_label, access_log, kubernetes) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?, ?, ?, ?, ?, ?)",
      {c.subscription_id, c.resource_group, c.name, c.location, c.agent_count, c.vm_size, SslToValue(c.ssl),
       NetworkingToValue(c.networking), c.load_balancer_type, c.load_balancer_subnet, c.state,
       c.created_by_workspace, c.scoring_endpoint, c.created, c.kind, c.port, c.dns_name_label,
       int64_t{c.access_log ? 1 : 0}, KubernetesToValue(c.kubernetes)});
  if (!changes.ok()) return changes.status();
  return tx.LastInsertId();
}

absl::Status Store::UpdateCluster(Tx& tx, const ClusterRecord& c) {
  return Changed(tx.Execute(
      "UPDATE clusters SET location = ?, agent_count = ?, vm_size = ?, ssl = ?, networking = ?, lb_type = ?, "
      "lb_subnet = ?, state = ?, created_by_workspace = ?, scoring_endpoint = ?, route_generation = ?, port = ?, "
      "dns_name_label = ?, access_log = ?, kubernetes = ? WHERE id = ?",
      {c.location, c.agent_count, c.vm_size, SslToValue(c.ssl), NetworkingToValue(c.networking),
       c.load_balancer_type, c.load_balancer_subnet, c.state, c.created_by_workspace, c.scoring_endpoint,
       c.route_generation, c.port, c.dns_name_label, int64_t{c.access_log ? 1 : 0}, KubernetesToValue(c.kubernetes),
       c.id}));
}

absl::Status Store::DeleteCluster(Tx& tx, int64_t id) {
  return Changed(tx.Execute("DELETE FROM clusters WHERE id = ?", {id}));
}

absl::StatusOr<std::optional<ComputeRecord>> Store::FindCompute(Tx& tx, int64_t workspace_id,
                                                                const std::string& name) {
  return QueryOne<ComputeRecord>(
      tx, absl::StrCat("SELECT ", kComputeColumns, " FROM computes WHERE workspace_id = ? AND name = ?"),
      {workspace_id, name}, ComputeFromRow);
}

absl::StatusOr<std::optional<ComputeRecord>> Store::GetCompute(Tx& tx, int64_t id) {
  return QueryOne<ComputeRecord>(tx, absl::StrCat("SELECT ", kComputeColumns, " FROM computes WHERE id = ?"),
                                 {id}, ComputeFromRow);
}

absl::StatusOr<std::vector<ComputeRecord>> Store::ListComputes(Tx& tx, int64_t workspace_id) {
  return QueryAll<ComputeRecord>(
      tx, absl::StrCat("SELECT ", kComputeColumns, " FROM computes WHERE workspace_id = ? ORDER BY name"),
      {workspace_id}, ComputeFromRow);
}

absl::StatusOr<std::vector<ComputeRecord>> Store::ComputesOfCluster(Tx& tx, int64_t cluster_id) {
  return QueryAll<ComputeRecord>(
      tx, absl::StrCat("SELECT ", kComputeColumns, " FROM computes WHERE cluster_id = ? ORDER BY id"),
      {cluster_id}, ComputeFromRow);
}

absl::StatusOr<int64_t> Store::InsertCompute(Tx& tx, const ComputeRecord& c) {
  auto changes = tx.Execute(
      "INSERT INTO computes (workspace_id, name, cluster_id, is_attached, cluster_purpose, location, "
      "description, tags, provisioning_state, provisioning_errors, created, modified) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {c.workspace_id, c.name, c.cluster_id, int64_t{c.is_attached}, c.cluster_purpose, c.location,
       c.description, MapToText(c.tags), c.provisioning_state, ErrorsToText(c.provisioning_errors), c.created,
       c.modified});
  if (!changes.ok()) return changes.status();
  return tx.LastInsertId();
}

absl::Status Store::UpdateCompute(Tx& tx, const ComputeRecord& c) {
  return Changed(tx.Execute(
      "UPDATE computes SET cluster_purpose = ?, location = ?, description = ?, tags = ?, provisioning_state = ?, "
      "provisioning_errors = ?, modified = ? WHERE id = ?",
      {c.cluster_purpose, c.location, c.description, MapToText(c.tags), c.provisioning_state,
       ErrorsToText(c.provisioning_errors), NowTimestamp(), c.id}));
}

absl::Status Store::DeleteCompute(Tx& tx, int64_t id) {
  return Changed(tx.Execute("DELETE FROM computes WHERE id = ?", {id}));
}

absl::Status Store::InsertOperation(Tx& tx, const OperationRecord& o) {
  return Changed(tx.Execute(
      absl::StrCat("INSERT INTO operations (", kOperationColumns,
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      {o.id, o.type, o.workspace_id, o.resource_kind, o.resource_id, o.resource_name, o.status, o.phase,
       o.error_code, o.error_message, o.payload, o.version, o.created, o.ended}));
}

absl::Status Store::UpdateOperation(Tx& tx, OperationRecord& o) {
  ++o.version;
  return Changed(tx.Execute(
      "UPDATE operations SET status = ?, phase = ?, error_code = ?, error_message = ?, "
      "payload = ?, version = version + 1, ended = ? WHERE id = ?",
      {o.status, o.phase, o.error_code, o.error_message, o.payload, o.ended, o.id}));
}

absl::StatusOr<std::optional<OperationRecord>> Store::GetOperation(Tx& tx, const std::string& id) {
  return QueryOne<OperationRecord>(
      tx, absl::StrCat("SELECT ", kOperationColumns, " FROM operations WHERE id = ?"), {id}, OperationFromRow);
}

absl::StatusOr<std::vector<OperationRecord>> Store::UnfinishedOperations(Tx& tx) {
  return QueryAll<OperationRecord>(
      tx, absl::StrCat("SELECT ", kOperationColumns, " FROM operations WHERE status = ? ORDER BY created"),
      {std::string(OperationStatus::kInProgress)}, OperationFromRow);
}

absl::StatusOr<std::optional<OperationRecord>> Store::RunningOperationOn(Tx& tx, absl::string_view kind,
                                                                         int64_t resource_id) {
  return QueryOne<OperationRecord>(
      tx,
      absl::StrCat("SELECT ", kOperationColumns,
                   " FROM operations WHERE resource_kind = ? AND resource_id = ? AND status = ? LIMIT 1"),
      {std::string(kind), resource_id, std::string(OperationStatus::kInProgress)}, OperationFromRow);
}

absl::StatusOr<std::optional<std::string>> Store::GetServerSetting(Tx& tx, const std::string& name) {
  std::optional<std::string> value;
  auto s = tx.Query("SELECT value FROM server_settings WHERE name = ?", {name},
                    [&](const Row& r) { value = r.Text(0); });
  if (!s.ok()) return s;
  return value;
}

absl::Status Store::PutServerSetting(Tx& tx, const std::string& name, const std::string& value) {
  return Changed(tx.Execute(
      "INSERT INTO server_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      {name, value}));
}

absl::StatusOr<std::vector<SigningKeyRecord>> Store::SigningKeys(Tx& tx) {
  std::vector<SigningKeyRecord> out;
  auto s = tx.Query(
      "SELECT kid, private_pem, public_pem, created, retired, published_until FROM signing_keys ORDER BY created, kid",
      {}, [&](const Row& r) {
        out.push_back({r.Text(0), r.Text(1), r.Text(2), r.Int(3), r.Int(4), r.Int(5)});
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status Store::PutSigningKey(Tx& tx, const SigningKeyRecord& key) {
  return Changed(tx.Execute(
      "INSERT INTO signing_keys (kid, private_pem, public_pem, created, retired, published_until) "
      "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kid) DO UPDATE SET retired = excluded.retired, "
      "published_until = excluded.published_until",
      {key.kid, key.private_pem, key.public_pem, key.created, key.retired, key.published_until}));
}

absl::Status Store::DeleteSigningKey(Tx& tx, const std::string& kid) {
  return Changed(tx.Execute("DELETE FROM signing_keys WHERE kid = ?", {kid}));
}

absl::Status Store::AppendOperationLog(Tx& tx, const std::string& operation_id, const std::string& message) {
  // A new line is a change that long-polling clients wait for.
  if (auto s = Changed(tx.Execute("UPDATE operations SET version = version + 1 WHERE id = ?", {operation_id}));
      !s.ok()) {
    return s;
  }
  return Changed(tx.Execute(
      "INSERT INTO operation_log (operation_id, seq, time, message) VALUES (?, "
      "(SELECT COALESCE(MAX(seq), 0) + 1 FROM operation_log WHERE operation_id = ?), ?, ?)",
      {operation_id, operation_id, NowTimestamp(), message}));
}

absl::StatusOr<std::vector<Store::LogLine>> Store::OperationLog(Tx& tx, const std::string& operation_id) {
  std::vector<LogLine> out;
  auto s = tx.Query("SELECT seq, time, message FROM operation_log WHERE operation_id = ? ORDER BY seq",
                    {operation_id}, [&](const Row& r) { out.push_back({r.Int(0), r.Text(1), r.Text(2)}); });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<OperationRecord>> Store::LatestOperationOn(Tx& tx, absl::string_view kind,
                                                                        int64_t resource_id,
                                                                        const std::vector<std::string>& types) {
  auto s = QueryAll<OperationRecord>(
      tx,
      absl::StrCat("SELECT ", kOperationColumns,
                   " FROM operations WHERE resource_kind = ? AND resource_id = ? ORDER BY created DESC"),
      {std::string(kind), resource_id}, OperationFromRow);
  if (!s.ok()) return s.status();
  for (auto& op : *s) {
    if (std::find(types.begin(), types.end(), op.type) != types.end()) return std::optional<OperationRecord>(op);
  }
  return std::optional<OperationRecord>();
}

absl::StatusOr<std::vector<std::string>> Store::DescribeAttachments(Tx& tx, int64_t cluster_id) {
  std::vector<std::string> out;
  auto s = tx.Query(
      "SELECT w.name, c.name FROM computes c JOIN workspaces w ON w.id = c.workspace_id WHERE c.cluster_id = ? "
      "ORDER BY c.id",
      {cluster_id}, [&](const Row& r) {
        out.push_back(absl::StrCat("compute target '", r.Text(1), "' of workspace '", r.Text(0), "'"));
      });
  if (!s.ok()) return s;
  return out;
}

}  // namespace amlcore::server
