import { hash, verify } from "@node-rs/argon2";

// The library's defaults are argon2id, m=19 MiB, t=2, p=1 (the OWASP baseline); every hash uses them,
// so the dummy hash below costs exactly what a real one does.
let dummyHash: Promise<string> | undefined;

function getDummyHash(): Promise<string> {
  dummyHash ??= hash("turnout-dummy-password-for-timing");
  return dummyHash;
}

/** Starts computing the dummy hash now, so the first login of an unknown email is not slower. */
export function warmUpPasswordHashing(): Promise<void> {
  // A failure here resurfaces (and is handled) in verifyPassword; it must not become an unhandled rejection.
  return getDummyHash().then(
    () => undefined,
    () => undefined,
  );
}

/** Hashes a password with argon2id. */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/**
 * Checks a password against a stored hash. With no hash (unknown account) it verifies against a dummy
 * hash and answers false, so a missing email costs the same time as a wrong password.
 */
export async function verifyPassword(storedHash: string | undefined, password: string): Promise<boolean> {
  try {
    const matches = await verify(storedHash ?? (await getDummyHash()), password);
    return storedHash !== undefined && matches;
  } catch {
    return false;
  }
}
