/**
 * libc through Deno FFI, for the socket calls Deno does not offer: connected AF_UNIX datagram
 * sockets (`Deno.listenDatagram` cannot `connect()`), batched `recvmmsg`/`sendmmsg`, `poll`, and
 * `open`/`ioctl`/`setns`/`writev` for TAP devices (tap.ts). Needs `--allow-ffi` (or `-A`); the
 * library is opened on first use.
 *
 * Constants and struct layouts are those of Linux on 64-bit little-endian machines (x86_64; the
 * generic ABI of aarch64 agrees for everything used here): `struct msghdr` 56 bytes, `struct
 * mmsghdr` 64, `struct iovec` 16, `struct pollfd` 8, `struct sockaddr_un` 110 (glibc
 * `<bits/socket.h>`, `<sys/un.h>`, `<sys/poll.h>`).
 *
 * errno: synchronous FFI calls run on the JS thread, so `errno()` read right after a failed call
 * is that call's errno. The nonblocking `poll` variant runs on another thread: its errno is lost.
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  chmod: { parameters: ["buffer", "u32"], result: "i32" },
  // Variadic in C; on the 64-bit SysV and AAPCS64 ABIs an int/pointer third argument is passed
  // exactly as for a fixed parameter.
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** `ioctl` whose argument is a value, not a pointer (TUNSETPERSIST takes an unsigned long). */
  ioctl_value: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  // Variadic in C (the mode argument); passed like a fixed parameter on these ABIs, as fcntl.
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /** The same `poll` on a worker thread: returns a promise, the JS thread stays free. */
  poll_nb: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  writev: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  getpid: { parameters: [], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

export type LibcSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: LibcSymbols | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

/**
 * The libc symbols, opened once per process. Throws an Error with a clear message when FFI is
 * not permitted or this is not Linux (the constants below are Linux's).
 */
export function libc(): LibcSymbols {
  if (lib) return lib;
  if (Deno.build.os !== "linux") {
    throw new Error(`AF_UNIX datagram sockets through libc are implemented for Linux only`);
  }
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch (e) {
    throw new Error(
      `Cannot load libc.so.6 through FFI (run with --allow-ffi or -A): ${(e as Error).message}`,
    );
  }
  const p = lib.__errno_location();
  if (p === null) throw new Error("__errno_location() returned NULL");
  errnoView = new Deno.UnsafePointerView(p);
  return lib;
}

/** errno of the last failed synchronous libc call on this (the JS) thread. */
export function errno(): number {
  if (!errnoView) libc();
  return errnoView!.getInt32();
}

// ---- constants (Linux, <asm-generic/errno*.h>, <bits/socket*.h>, <poll.h>) ----

export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
/** setns(2) nstype for a network namespace. */
export const CLONE_NEWNET = 0x40000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const EPIPE = 32;
export const ENAMETOOLONG = 36;
export const EBADFD = 77;
export const ENOTSOCK = 88;
export const EMSGSIZE = 90;
export const EPROTOTYPE = 91;
export const EADDRINUSE = 98;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const EISCONN = 106;
export const ENOTCONN = 107;
export const ECONNREFUSED = 111;

const ERRNO_NAMES: Record<number, string> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [EINTR]: "EINTR",
  [EIO]: "EIO",
  [ENXIO]: "ENXIO",
  [EBADF]: "EBADF",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EACCES]: "EACCES",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [ENODEV]: "ENODEV",
  [EINVAL]: "EINVAL",
  [EPIPE]: "EPIPE",
  [ENAMETOOLONG]: "ENAMETOOLONG",
  [EBADFD]: "EBADFD",
  [ENOTSOCK]: "ENOTSOCK",
  [EMSGSIZE]: "EMSGSIZE",
  [EPROTOTYPE]: "EPROTOTYPE",
  [EADDRINUSE]: "EADDRINUSE",
  [ECONNRESET]: "ECONNRESET",
  [ENOBUFS]: "ENOBUFS",
  [EISCONN]: "EISCONN",
  [ENOTCONN]: "ENOTCONN",
  [ECONNREFUSED]: "ECONNREFUSED",
};

/** `EAGAIN`, or `errno 42` for numbers without a name here. */
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

/** A failed system call: `bind(/run/sw/.01234-00000): EADDRINUSE`. */
export class SysError extends Error {
  override name = "SysError";
  constructor(readonly call: string, readonly errno: number, detail = "") {
    super(`${call}${detail ? `(${detail})` : ""}: ${errnoName(errno)}`);
  }
}

// ---- struct layouts (Linux, 64-bit) ----

/** sizeof(struct sockaddr_un) on Linux: 2-byte sun_family + 108-byte sun_path. */
export const SOCKADDR_UN_SIZE = 110;
export const SUN_PATH_SIZE = 108;
export const MSGHDR_SIZE = 56;
export const MMSGHDR_SIZE = 64;
export const IOVEC_SIZE = 16;
export const POLLFD_SIZE = 8;
/** Byte offsets in `struct mmsghdr` (msghdr first, then `unsigned int msg_len`). */
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
export const MSG_FLAGS = 48;
export const MSG_LEN = 56;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encode a filesystem path as a `struct sockaddr_un` (family AF_UNIX, little-endian u16, then the
 * NUL-terminated path). Throws RangeError when the path does not fit (107 bytes + NUL).
 */
export function encodeSockaddrUn(path: string, out = new Uint8Array(SOCKADDR_UN_SIZE)): Uint8Array {
  const bytes = encoder.encode(path);
  if (bytes.length === 0 || bytes.length >= SUN_PATH_SIZE || bytes.includes(0)) {
    throw new RangeError(
      `Unix socket path "${path}" must be 1 to ${SUN_PATH_SIZE - 1} bytes without NUL`,
    );
  }
  out.fill(0, 0, SOCKADDR_UN_SIZE);
  out[0] = AF_UNIX & 0xff;
  out[1] = AF_UNIX >> 8;
  out.set(bytes, 2);
  return out;
}

export interface SockaddrUn {
  family: number;
  /** The path up to the first NUL; "" for an unnamed socket, "\0…" never (see `abstract`). */
  path: string;
  /** sun_path starts with NUL but has more bytes: a Linux abstract-namespace name. */
  abstract: boolean;
  /** No NUL in all 108 bytes of sun_path (Linux accepts that; the path is then 108 bytes). */
  unterminated: boolean;
}

/** Decode a `struct sockaddr_un` at `offset`; undefined when fewer than 110 bytes remain. */
export function decodeSockaddrUn(bytes: Uint8Array, offset = 0): SockaddrUn | undefined {
  if (bytes.length - offset < SOCKADDR_UN_SIZE) return undefined;
  const family = bytes[offset] | (bytes[offset + 1] << 8);
  const sunPath = bytes.subarray(offset + 2, offset + SOCKADDR_UN_SIZE);
  let end = sunPath.indexOf(0);
  const unterminated = end < 0;
  if (unterminated) end = SUN_PATH_SIZE;
  const abstract = end === 0 && sunPath.some((b) => b !== 0);
  return { family, path: decoder.decode(sunPath.subarray(0, end)), abstract, unterminated };
}

/** A NUL-terminated C string for path arguments (unlink, chmod). */
export function cString(s: string): Uint8Array {
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** The address of a buffer's first byte, as a number (user-space addresses fit in 2^53). */
export function addressOf(buf: Uint8Array): number {
  const p = Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>);
  if (p === null) throw new Error("UnsafePointer.of returned null for a buffer");
  return Number(Deno.UnsafePointer.value(p));
}

/**
 * Store a 64-bit address into a Uint32Array view at `index` (low word first, little-endian)
 * without a BigInt: the hot path writes iovec bases this way.
 */
export function storeAddress(u32: Uint32Array, index: number, address: number): void {
  u32[index] = address % 0x1_0000_0000;
  u32[index + 1] = Math.floor(address / 0x1_0000_0000);
}

// ---- small wrappers that throw SysError (setup paths, never the frame path) ----

/** A new AF_UNIX socket, non-blocking and close-on-exec. */
export function unixSocket(type: typeof SOCK_DGRAM | typeof SOCK_STREAM): number {
  const fd = libc().socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket", errno());
  return fd;
}

/** bind() to a filesystem path; returns 0 or the errno (EADDRINUSE is routine for callers). */
export function bindUnix(fd: number, path: string): number {
  return libc().bind(fd, encodeSockaddrUn(path), SOCKADDR_UN_SIZE) === 0 ? 0 : errno();
}

/** connect() to a filesystem path; returns 0 or the errno. */
export function connectUnix(fd: number, path: string): number {
  return libc().connect(fd, encodeSockaddrUn(path), SOCKADDR_UN_SIZE) === 0 ? 0 : errno();
}

/** unlink(); returns 0 or the errno (ENOENT is usually fine). */
export function unlinkPath(path: string): number {
  return libc().unlink(cString(path)) === 0 ? 0 : errno();
}

/** chmod(); returns 0 or the errno. */
export function chmodPath(path: string, mode: number): number {
  return libc().chmod(cString(path), mode) === 0 ? 0 : errno();
}

/** close(); errors ignored (Linux releases the descriptor even when close reports one). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** A connected pair of AF_UNIX sockets (non-blocking, close-on-exec): for tests and pipes. */
export function unixSocketPair(type: typeof SOCK_DGRAM | typeof SOCK_STREAM): [number, number] {
  const fds = new Int32Array(2);
  const r = libc().socketpair(
    AF_UNIX,
    type | SOCK_NONBLOCK | SOCK_CLOEXEC,
    0,
    new Uint8Array(fds.buffer),
  );
  if (r !== 0) throw new SysError("socketpair", errno());
  return [fds[0], fds[1]];
}
