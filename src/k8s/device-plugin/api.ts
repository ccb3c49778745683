import type * as Grpc from '@grpc/grpc-js';

/**
 * The kubelet device-plugin API, version v1beta1 (Kubernetes `pkg/kubelet/apis/deviceplugin/v1beta1`,
 * design doc "Device Manager Proposal"): the kubelet's Registration service on
 * `kubelet.sock`, and the DevicePlugin service each plugin serves on its own socket in the same
 * folder. Written out here without the gogoproto options, which change only Go code generation.
 */
export const API_VERSION = 'v1beta1';
export const KUBELET_SOCKET = 'kubelet.sock';
export const DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const HEALTHY = 'Healthy';
export const UNHEALTHY = 'Unhealthy';

const PROTO = `
syntax = "proto3";
package v1beta1;

message DevicePluginOptions {
  bool pre_start_required = 1;
  bool get_preferred_allocation_available = 2;
}
message RegisterRequest {
  string version = 1;
  string endpoint = 2;
  string resource_name = 3;
  DevicePluginOptions options = 4;
}
message Empty {}
message ListAndWatchResponse { repeated Device devices = 1; }
message TopologyInfo { repeated NUMANode nodes = 1; }
message NUMANode { int64 ID = 1; }
message Device {
  string ID = 1;
  string health = 2;
  TopologyInfo topology = 3;
}
message PreStartContainerRequest { repeated string devicesIDs = 1; }
message PreStartContainerResponse {}
message PreferredAllocationRequest { repeated ContainerPreferredAllocationRequest container_requests = 1; }
message ContainerPreferredAllocationRequest {
  repeated string available_deviceIDs = 1;
  repeated string must_include_deviceIDs = 2;
  int32 allocation_size = 3;
}
message PreferredAllocationResponse { repeated ContainerPreferredAllocationResponse container_responses = 1; }
message ContainerPreferredAllocationResponse { repeated string deviceIDs = 1; }
message AllocateRequest { repeated ContainerAllocateRequest container_requests = 1; }
message ContainerAllocateRequest { repeated string devicesIDs = 1; }
message AllocateResponse { repeated ContainerAllocateResponse container_responses = 1; }
message ContainerAllocateResponse {
  map<string, string> envs = 1;
  repeated Mount mounts = 2;
  repeated DeviceSpec devices = 3;
  map<string, string> annotations = 4;
}
message Mount {
  string container_path = 1;
  string host_path = 2;
  bool read_only = 3;
}
message DeviceSpec {
  string container_path = 1;
  string host_path = 2;
  string permissions = 3;
}

service Registration {
  rpc Register(RegisterRequest) returns (Empty) {}
}
service DevicePlugin {
  rpc GetDevicePluginOptions(Empty) returns (DevicePluginOptions) {}
  rpc ListAndWatch(Empty) returns (stream ListAndWatchResponse) {}
  rpc GetPreferredAllocation(PreferredAllocationRequest) returns (PreferredAllocationResponse) {}
  rpc Allocate(AllocateRequest) returns (AllocateResponse) {}
  rpc PreStartContainer(PreStartContainerRequest) returns (PreStartContainerResponse) {}
}
`;

export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface Device {
  ID: string;
  health: typeof HEALTHY | typeof UNHEALTHY;
}
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: never[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
}

export interface DevicePluginApi {
  grpc: typeof Grpc;
  registration: Grpc.ServiceClientConstructor;
  devicePlugin: Grpc.ServiceClientConstructor;
}

/** Loads gRPC and the API on first use, so that commands which never speak it do not pay for it. */
export async function loadApi(): Promise<DevicePluginApi> {
  const [grpc, loader, protobuf] = await Promise.all([
    import('@grpc/grpc-js'),
    import('@grpc/proto-loader'),
    import('protobufjs'),
  ]);
  const root = protobuf.default.parse(PROTO, { keepCase: true }).root;
  const definition = loader.fromJSON(root.toJSON(), { keepCase: true, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition)['v1beta1'] as Grpc.GrpcObject;
  return {
    grpc,
    registration: pkg['Registration'] as Grpc.ServiceClientConstructor,
    devicePlugin: pkg['DevicePlugin'] as Grpc.ServiceClientConstructor,
  };
}
