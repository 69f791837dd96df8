/** A free TCP port on 127.0.0.1: the OS picks it, and it is released for the process that will listen on it. */
export declare function freePort(): Promise<number>;
/** Whether something accepts a TCP connection on 127.0.0.1:`port` now (the connection is closed at once). */
export declare function accepts(port: number): Promise<boolean>;
