export {
  type BindBoardStatusOptions,
  type BindInputOptions,
  type BindLedOptions,
  type BindSensorOptions,
  bindBoardStatus,
  bindInputs,
  bindLed,
  bindSensor,
  type CommandNamesFor,
  type EventNamesFor,
  type HubTarget,
  type InputSource,
} from './bind.js';
export {
  type Board,
  type BoardCapabilities,
  type BoardEvents,
  type BoardStatus,
  type Edge,
  type Level,
  type OperationOptions,
  PIN_MODES,
  type Pin,
  type PinCapability,
  type PinEdgeEvent,
  type PinMode,
  type PinModeOptions,
  type SensorReading,
  type WatchOptions,
} from './board.js';
export type { BoardChannel, BoardChannelArgs, BoardChannelOptions } from './board-channel.js';
export { Button, type ButtonEvents, type ButtonOptions } from './button.js';
export {
  type BoardStatusChange,
  boardEvents,
  boardReducers,
  type LedCommandInput,
  type LedCommandState,
  type LedState,
  ledCommand,
  type PinChange,
  type SimulateInput,
  simulateCommand,
  type WithBoard,
  type WithInputs,
  type WithLed,
} from './contract.js';
export { Debouncer } from './debounce.js';
export {
  type BindSimulatorOptions,
  bindSimulator,
  describeCapabilities,
  type RegisterBoardOptions,
  registerBoard,
} from './fleet.js';
export { Led, type LedEvents, type LedOptions } from './led.js';
export {
  type GpioLineInfo,
  type GpioRestartOptions,
  LinuxGpioBoard,
  type LinuxGpioBoardOptions,
} from './linux-gpio-board.js';
export {
  attachBoardLink,
  type BoardCredential,
  BoardLink,
  type BoardLinkEvents,
  type BoardLinkOptions,
  type BoardRejection,
  type BoardTokenCheck,
} from './remote/board-link.js';
export {
  BOARD_PROTOCOL,
  type BoardDecodeResult,
  type BoardFrame,
  type BoardRequest,
  type BoardSnapshot,
  decodeBoardFrame,
  type HelloFrame,
  type PingToken,
  type ServerClockFrame,
} from './remote/frames.js';
export { type PinLevelEvent, RemoteBoard, type RemoteBoardEvents } from './remote/remote-board.js';
export { Sensor, type SensorEvents, type SensorOptions } from './sensor.js';
export { SimulatedBoard, type SimulatedBoardOptions, type Waveform } from './simulated-board.js';
