"""Type stubs of amlcore._core, the native layer under the amlcore package."""

from typing import Dict, List, Optional, Tuple

DEFAULT_SUBSCRIPTION_ID: str
DEFAULT_RESOURCE_GROUP: str
DEFAULT_LOCATION: str

class Workspace:
    @staticmethod
    def create(name: str, subscription_id: str = "", resource_group: str = "", location: str = "",
               create_resource_group: bool = True, exist_ok: bool = False, friendly_name: str = "",
               description: str = "", tags: Dict[str, str] = ...) -> Workspace: ...
    @staticmethod
    def get(name: str, subscription_id: str = "", resource_group: str = "") -> Workspace: ...
    @staticmethod
    def list(subscription_id: str = "", resource_group: str = "") -> List[Workspace]: ...
    @staticmethod
    def from_config(path: str = "", file_name: str = "") -> Workspace: ...
    @staticmethod
    def find_config_file(path: str = "", file_name: str = "") -> str: ...
    def write_config(self, path: str = "", file_name: str = "") -> str: ...
    def delete(self) -> None: ...
    def compute_targets(self) -> Dict[str, ComputeTarget]: ...
    @property
    def name(self) -> str: ...
    @property
    def subscription_id(self) -> str: ...
    @property
    def resource_group(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def friendly_name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def tags(self) -> Dict[str, str]: ...
    @property
    def id(self) -> str: ...

class SslConfiguration:
    status: str
    cert: str
    key: str
    cname: str
    leaf_domain_label: str
    overwrite_existing_domain: bool
    renew: bool
    def __init__(self) -> None: ...

class AksProvisioningConfiguration:
    agent_count: Optional[int]
    vm_size: str
    ssl_cname: str
    ssl_cert_pem_file: str
    ssl_key_pem_file: str
    location: str
    vnet_resourcegroup_name: str
    vnet_name: str
    subnet_name: str
    service_cidr: str
    dns_service_ip: str
    docker_bridge_cidr: str
    cluster_purpose: str
    load_balancer_type: str
    load_balancer_subnet: str
    leaf_domain_label: str
    overwrite_existing_domain: bool
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class AksAttachConfiguration:
    resource_group: str
    cluster_name: str
    resource_id: str
    cluster_purpose: str
    load_balancer_type: str
    load_balancer_subnet: str
    ssl_cname: str
    ssl_cert_pem_file: str
    ssl_key_pem_file: str
    leaf_domain_label: str
    overwrite_existing_domain: bool
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class AksUpdateConfiguration:
    ssl_configuration: Optional[SslConfiguration]
    load_balancer_type: str
    load_balancer_subnet: str
    agent_count: Optional[int]
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class ProvisioningError:
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...

class ComputeTarget:
    @staticmethod
    def get(workspace: Workspace, name: str) -> ComputeTarget: ...
    @staticmethod
    def list(workspace: Workspace) -> List[ComputeTarget]: ...
    def wait_for_completion(self, show_output: bool = False, is_delete_operation: bool = False,
                            timeout: Optional[float] = None) -> None: ...
    def refresh_state(self) -> None: ...
    def get_status(self) -> str: ...
    def delete(self) -> None: ...
    def detach(self) -> None: ...
    def serialize(self) -> str: ...
    @property
    def workspace(self) -> Workspace: ...
    @property
    def name(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def tags(self) -> Dict[str, str]: ...
    @property
    def created_on(self) -> str: ...
    @property
    def modified_on(self) -> str: ...
    @property
    def provisioning_state(self) -> str: ...
    @property
    def provisioning_errors(self) -> List[ProvisioningError]: ...
    @property
    def cluster_resource_id(self) -> str: ...
    @property
    def cluster_location(self) -> str: ...
    @property
    def is_attached(self) -> bool: ...
    @property
    def operation_endpoint(self) -> str: ...

class AksCompute(ComputeTarget):
    @staticmethod
    def create(workspace: Workspace, name: str, config: AksProvisioningConfiguration) -> AksCompute: ...
    @staticmethod
    def attach(workspace: Workspace, name: str, config: AksAttachConfiguration) -> AksCompute: ...
    @staticmethod
    def deserialize(workspace: Workspace, text: str) -> AksCompute: ...
    def update(self, config: AksUpdateConfiguration) -> None: ...
    def get_credentials(self) -> str: ...
    @property
    def agent_count(self) -> Optional[int]: ...
    @property
    def agent_vm_size(self) -> str: ...
    @property
    def cluster_purpose(self) -> str: ...
    @property
    def cluster_fqdn(self) -> str: ...
    @property
    def ssl_configuration(self) -> Optional[SslConfiguration]: ...
    @property
    def load_balancer_type(self) -> str: ...
    @property
    def load_balancer_subnet(self) -> str: ...
    @property
    def scoring_endpoint(self) -> str: ...

DEFAULT_DATASTORE_NAME: str
INVALID_DATASET_PATH_MESSAGE: str

class DatastoreFile:
    path: str
    sha256: str
    size: int
    modified_time: str

class Datastore:
    @staticmethod
    def get(workspace: Workspace, name: str) -> Datastore: ...
    @staticmethod
    def get_default(workspace: Workspace) -> Datastore: ...
    @staticmethod
    def list(workspace: Workspace) -> List[Datastore]: ...
    def upload(self, src_dir: str, target_path: str, overwrite: bool, show_progress: bool) -> int: ...
    def upload_files(self, files: List[str], relative_root: str, target_path: str, overwrite: bool,
                     show_progress: bool) -> int: ...
    def list_files(self, prefix: str = "") -> List[DatastoreFile]: ...
    def download(self, target_path: str, prefix: str, overwrite: bool, show_progress: bool) -> int: ...
    workspace: Workspace
    name: str
    datastore_type: str
    container_name: str
    account_name: str
    is_default: bool

class DelimitedFilesOptions:
    separator: str
    header: str
    encoding: str
    include_path: bool
    infer_column_types: bool
    support_multi_line: bool
    empty_as_string: bool
    def __init__(self) -> None: ...

class DatasetFile:
    datastore: str
    path: str
    relative_path: str
    sha256: str
    size: int

class Dataset:
    @staticmethod
    def from_files(workspace: Workspace, paths: List[Tuple[str, str]], validate: bool) -> Dataset: ...
    @staticmethod
    def from_delimited_files(workspace: Workspace, paths: List[Tuple[str, str]], options: DelimitedFilesOptions,
                             validate: bool) -> Dataset: ...
    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: Optional[int] = None) -> Dataset: ...
    @staticmethod
    def get_by_id(workspace: Workspace, id: str) -> Dataset: ...
    @staticmethod
    def list(workspace: Workspace) -> List[Dataset]: ...
    def register(self, name: str, description: str, tags: Dict[str, str], create_new_version: bool) -> Dataset: ...
    def save(self) -> Dataset: ...
    def files(self) -> List[DatasetFile]: ...
    def to_path(self) -> List[str]: ...
    def download(self, target_dir: str, overwrite: bool) -> List[str]: ...
    workspace: Workspace
    id: str
    name: str
    version: int
    description: str
    tags: Dict[str, str]
    dataset_type: str
    created_time: str
    paths: List[Tuple[str, str]]
    delimited: Optional[DelimitedFilesOptions]

class ResourceConfiguration:
    cpu: Optional[float]
    memory_in_gb: Optional[float]
    gpu: Optional[float]
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class ModelProfileDetails:
    name: str
    description: str
    state: str
    created_time: str
    error: str
    input_dataset_id: str
    model_ids: List[str]
    requested_cpu: Optional[float]
    requested_memory_in_gb: Optional[float]
    total_queries: Optional[int]
    success_queries: Optional[int]
    success_rate: Optional[float]
    average_latency_ms: Optional[float]
    latency_p50_ms: Optional[float]
    latency_p90_ms: Optional[float]
    latency_p95_ms: Optional[float]
    latency_p99_ms: Optional[float]
    latency_p999_ms: Optional[float]
    measured_queries_per_second: Optional[float]
    max_utilized_cpu: Optional[float]
    max_utilized_memory_gb: Optional[float]
    recommended_cpu: Optional[float]
    recommended_memory_gb: Optional[float]

class ModelProfile:
    @staticmethod
    def validate_arguments(name: str, cpu: Optional[float], memory_in_gb: Optional[float]) -> None: ...
    @staticmethod
    def start(workspace: Workspace, name: str, models: list, inference_config: object, inputs: List[str],
              cpu: Optional[float], memory_in_gb: Optional[float], description: str,
              input_dataset_id: str) -> ModelProfile: ...
    def wait_for_completion(self, show_output: bool = False, timeout: Optional[float] = None) -> None: ...
    def details(self) -> ModelProfileDetails: ...

# inferenceconfig.json and deploymentconfig.json, read by the SDK's parser (amlcore/config_files.h).
def load_inference_config_file(path: str) -> object: ...

class DeploymentConfigFile:
    compute_type: str  # "aks", "aksendpoint", "aci" or "local"
    aks: object        # AksServiceDeploymentConfiguration
    aci: object        # AciServiceDeploymentConfiguration
    local: object      # LocalWebserviceDeploymentConfiguration

def load_deployment_config_file(path: str) -> DeploymentConfigFile: ...
