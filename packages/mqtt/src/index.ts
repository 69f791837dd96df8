export { type BridgeOptions, bridgeHub, type MqttBridge, type MqttBridgeEvents } from './bridge.js';
export { type ConnectMqttOptions, connectMqtt, DEFAULT_MAXIMUM_PACKET_SIZE } from './connect.js';
export {
  type DiscoveredDevice,
  type Discovery,
  type DiscoveryEvents,
  type DiscoveryOptions,
  deviceId,
  discoverDevices,
  type SkippedComponent,
} from './discovery.js';
export { MqttBoard, type MqttBoardEvents, type MqttBoardOptions } from './mqtt-board.js';
export { type EsphomeOptions, esphome, type TasmotaOptions, tasmota } from './profiles.js';
export {
  type AvailabilityTopic,
  atPath,
  type Decode,
  decodeLevel,
  decodeNumber,
  type InputTopics,
  type OutputTopics,
  parseJson,
  type QueryTopic,
  type SensorTopics,
  type StateSource,
  type TopicMap,
} from './topics.js';
export { compileValueTemplate, type ValueTemplate } from './value-template.js';
