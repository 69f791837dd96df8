// The npm WebAssembly build of MicroPython ships no types; this is the part the tests use.
declare module '@micropython/micropython-webassembly-pyscript' {
  export interface MicroPythonInstance {
    runPython(code: string): unknown;
    runPythonAsync(code: string): Promise<unknown>;
    registerJsModule(name: string, module: object): void;
    FS: { writeFile(path: string, data: string): void };
  }
  export function loadMicroPython(options: {
    heapsize?: number;
    stdout?: (line: string) => void;
    stderr?: (line: string) => void;
  }): Promise<MicroPythonInstance>;
}
