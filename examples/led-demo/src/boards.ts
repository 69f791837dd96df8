import type { Server } from 'node:http';
import {
  attachBoardLink,
  type Board,
  type BoardLink,
  LinuxGpioBoard,
  SimulatedBoard,
} from '@boardcast/board-adapter-gpio';
import { MqttBoard, tasmota } from '@boardcast/mqtt';

export interface DemoPins {
  /** Output driving the LED (the seeds used GPIO 5 and 12). */
  readonly led: number;
  /** Push-button, wired to ground (GPIO 0 is the ESP32's BOOT button). */
  readonly button: number;
  /** The extra input of the WiPy seed. */
  readonly input: number;
}

export const DEFAULT_PINS: DemoPins = { led: 5, button: 0, input: 4 };

export type BoardChoice =
  /** No hardware: inputs are driven from the page's virtual board or `POST /api/sim/inputs/<pin>`. */
  | { readonly kind: 'sim'; readonly latencyMs?: number }
  /** A board agent (ESP32 MicroPython, Raspberry Pi CPython) dials in on `path` (default `/board`). */
  | {
      readonly kind: 'remote';
      readonly token: string;
      readonly id: string;
      readonly path?: string;
      readonly heartbeatMs?: number;
    }
  /**
   * Node runs on the Pi itself and drives pins through the GPIO character
   * device: one helper process on python3-libgpiod holds the lines. Pins are
   * BCM GPIO numbers on every Raspberry Pi.
   */
  | {
      readonly kind: 'gpio';
      /** Chip whose offsets the pin numbers are (label, `gpiochipN` or path); default: the Pi's chip by label. */
      readonly chip?: string;
      /** Extra environment for the GPIO helper. */
      readonly env?: Readonly<Record<string, string>>;
      /** Python interpreter for the helper (default `python3`). */
      readonly python?: string;
    }
  /**
   * A Tasmota device on an MQTT broker (`--board mqtt --mqtt-url … --device
   * <topic>`): its relay 1 is the LED pin, confirmed by the device's
   * `stat/<topic>/POWER` report, its switches 1 and 2 the button and input
   * pins; availability is its last will.
   */
  | {
      readonly kind: 'mqtt';
      /** Broker URL (`mqtt://host:1883`, `mqtts://…`); credentials may be in the URL. */
      readonly url: string;
      /** The device's Tasmota `Topic`. */
      readonly device: string;
    }
  /** Any other `Board` you built yourself. */
  | { readonly kind: 'board'; readonly board: Board };

export interface CreatedBoard {
  readonly board: Board;
  /** Set for remote boards: the endpoint agents dial. */
  readonly link?: BoardLink;
}

/** Build the board the demo drives. `server` is where a remote board's link attaches. */
export async function createBoard(
  choice: BoardChoice,
  server: Server,
  pins: DemoPins,
  allowedHosts?: readonly string[],
): Promise<CreatedBoard> {
  switch (choice.kind) {
    case 'sim':
      return { board: new SimulatedBoard({ id: 'sim', latencyMs: choice.latencyMs ?? 0 }) };
    case 'remote': {
      const link = attachBoardLink(server, {
        token: choice.token,
        path: choice.path ?? '/board',
        heartbeatMs: choice.heartbeatMs ?? 5000,
        allowedHosts,
      });
      return { board: link.board(choice.id), link };
    }
    case 'gpio': {
      // Pin numbers are BCM numbers: the chip is found by its label
      // (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711/-bcm2835 before), whatever
      // the kernel names the lines, so no flag is needed on any Pi.
      const board = await LinuxGpioBoard.open({
        pins: [pins.led, pins.button, pins.input],
        consumer: 'led-demo',
        ...(choice.chip === undefined ? {} : { chip: choice.chip }),
        ...(choice.env === undefined ? {} : { env: choice.env }),
        ...(choice.python === undefined ? {} : { python: choice.python }),
      });
      return { board };
    }
    case 'mqtt':
      return {
        board: new MqttBoard({
          id: choice.device,
          url: choice.url,
          // Switch1/Switch2 are reported when detached from the relay (SetOption114 1).
          topics: tasmota(choice.device, {
            relays: { [pins.led]: 1 },
            switches: { [pins.button]: 1, [pins.input]: 2 },
          }),
        }),
      };
    case 'board':
      return { board: choice.board };
  }
}
