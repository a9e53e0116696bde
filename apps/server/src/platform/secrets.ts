import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Config, Secrets } from "../config.ts";

const secretsFileSchema = z.object({
  tokenSecret: z.string().min(32),
  ticketSecret: z.string().min(32),
  urlSigningSecret: z.string().min(32),
});

/** Returns the signing keys: from the environment, else (embedded mode) from DATA_DIR/secrets.json, made on first start. */
export async function loadSecrets(config: Config): Promise<Secrets> {
  const { tokenSecret, ticketSecret, urlSigningSecret, previousTokenSecret } = config.secrets;
  if (tokenSecret !== undefined && ticketSecret !== undefined && urlSigningSecret !== undefined) {
    return { tokenSecret, ticketSecret, urlSigningSecret, previousTokenSecret };
  }
  const file = join(config.dataDir, "secrets.json");
  let stored: Secrets;
  if (existsSync(file)) {
    stored = secretsFileSchema.parse(JSON.parse(await readFile(file, "utf8")));
  } else {
    await mkdir(config.dataDir, { recursive: true });
    const generate = () => randomBytes(32).toString("base64url");
    stored = { tokenSecret: generate(), ticketSecret: generate(), urlSigningSecret: generate() };
    await writeFile(file, JSON.stringify(stored), { mode: 0o600, flag: "wx" });
  }
  await chmod(file, 0o600);
  return { ...stored, ...config.secrets };
}
