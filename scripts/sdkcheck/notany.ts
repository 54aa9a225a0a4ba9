// Shared by the usage files (type-checked only, never executed).

// Compile-time guard: `IsAny<T>` is `true` only for `any`.
type IsAny<T> = 0 extends 1 & T ? true : false;

// assertNotAny(value, true) compiles only when value's type is not `any`: it proves that a
// field the usage file reads has a real generated type.
export function assertNotAny<T>(_value: T, _notAny: IsAny<T> extends true ? never : true): void {}
