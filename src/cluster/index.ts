// shmex/cluster: the executor across machines, on BullMQ and Redis (optional
// peer dependencies, loaded only by this entry). See docs/cluster.md.
export {
  BlobError,
  ClusterValueError,
  JobLostError,
  MachineLostError,
  MachinePoolBrokenError,
  MachineRegistrationError,
  ModuleMismatchError,
  RedisFullError,
  RedisUnavailableError,
  RemoteJobError,
  UnregisteredValueError,
} from './errors.js';
export { ClusterExecutor, type ClusterExecutorOptions, type ClusterStats } from './executor.js';
export {
  LocalCluster,
  LocalClusterError,
  type LocalClusterOptions,
  type LocalMachine,
} from './local-cluster.js';
export { Machine, type MachineOptions } from './machine.js';
export { type ClusterStatus, clusterStatus } from './status.js';
export { ClusterRef } from './value-codec.js';
