import { randomBytes } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { cloudTrailEvent } from "../eventbridge.ts";
import { secretNewVersionCreated } from "../eventgrid.ts";
import { AWS_ACCOUNT, AWS_REGION, type Mesh } from "../mesh.ts";
import type { Delivery, SenderFront } from "./sender-front.ts";

/**
 * Steady mutations in both directions for the chaos tests, Jepsen style: every change gets a unique
 * value and event id, is made in the source cloud first (moto or the Key Vault emulator), then
 * announced through a {@link SenderFront} that retries as the cloud's sender would; every
 * acknowledgement (2xx) is recorded with the phase it happened in. One change at a time per
 * secret, secrets interleaved; `paceMs` between a writer's changes keeps the rate steady.
 */
export type Direction = "aws-to-azure" | "azure-to-aws";

export interface ChaosSecret {
  direction: Direction;
  /** The source's name (Secrets Manager name, or Key Vault name). */
  name: string;
  arn?: string;
  /** Origin version ids and values, in creation order. */
  versions: string[];
  values: string[];
}

export interface ChaosEvent {
  secret: ChaosSecret;
  /** Position of the announced version in the secret's history. */
  index: number;
  version: string;
  eventId: string;
  /** The phase the change was made in. */
  phase: string;
  delivery: Delivery;
}

export interface ChaosWorkloadOptions {
  /** Secrets per direction. */
  secrets: number;
  /** Concurrent writers per direction. */
  writers: number;
  /** Pause of a writer between two changes. */
  paceMs: number;
  /** AWS names start with it (the AWS → Azure rule's prefix), e.g. `chaosa/`. */
  awsPrefix: string;
  /** Key Vault names start with it (the Azure → AWS rule's prefix), e.g. `chaosz-`. */
  azurePrefix: string;
  /** The Key Vault the Azure-born secrets live in (as Event Grid names it). */
  vaultName: string;
  fronts: { eventBridge: SenderFront; eventGrid: SenderFront };
}

export class ChaosWorkload {
  readonly secrets: ChaosSecret[] = [];
  readonly events: ChaosEvent[] = [];
  /** The phase new changes are attributed to. */
  phase = "warm-up";
  readonly #mesh: Mesh;
  readonly #options: ChaosWorkloadOptions;
  #stopping = false;
  #running: Promise<void> | undefined;

  constructor(mesh: Mesh, options: ChaosWorkloadOptions) {
    this.#mesh = mesh;
    this.#options = options;
    const run = randomBytes(3).toString("hex");
    for (let index = 0; index < options.secrets; index++) {
      const suffix = `${run}-s${String(index).padStart(3, "0")}`;
      this.secrets.push({ direction: "aws-to-azure", name: `${options.awsPrefix}${suffix}`, versions: [], values: [] });
      this.secrets.push({ direction: "azure-to-aws", name: `${options.azurePrefix}${suffix}`, versions: [], values: [] });
    }
  }

  /** Starts the writers; they run until {@link stop}. */
  start(): void {
    const writers = (direction: Direction): Array<Promise<void>> => {
      const queue = this.secrets.filter((secret) => secret.direction === direction);
      return Array.from({ length: this.#options.writers }, async () => {
        while (!this.#stopping) {
          const secret = queue.shift();
          if (!secret) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            continue;
          }
          await this.#change(secret);
          queue.push(secret);
          await new Promise((resolve) => setTimeout(resolve, this.#options.paceMs));
        }
      });
    };
    this.#running = Promise.all([...writers("aws-to-azure"), ...writers("azure-to-aws")]).then(() => undefined);
  }

  /** Lets every change in progress finish its delivery (acknowledged or given up), then resolves. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#running;
  }

  async #change(secret: ChaosSecret): Promise<void> {
    const value = `chaos-${randomBytes(12).toString("base64url")}`;
    const phase = this.phase;
    let version: string;
    let eventId: string;
    let delivery: Promise<Delivery>;
    if (secret.direction === "aws-to-azure") {
      const sm = this.#mesh.secretsManager;
      if (secret.arn === undefined) {
        const created = await sm.send(new CreateSecretCommand({ Name: secret.name, SecretString: value }));
        secret.arn = created.ARN ?? "";
        version = created.VersionId ?? "";
      } else {
        version = (await sm.send(new PutSecretValueCommand({ SecretId: secret.arn, SecretString: value }))).VersionId ?? "";
      }
      const event = cloudTrailEvent(
        secret.versions.length === 0 ? "aws-cloudtrail-createsecret.json" : "aws-cloudtrail-putsecretvalue.json",
        { arn: secret.arn, name: secret.name, account: AWS_ACCOUNT, region: AWS_REGION },
        { versionId: version },
      );
      eventId = String(event.id);
      secret.versions.push(version);
      secret.values.push(value);
      delivery = this.#options.fronts.eventBridge.deliver(event);
    } else {
      version = (await this.#mesh.keyVaultClient.setSecret(secret.name, value)).properties.version ?? "";
      const events = secretNewVersionCreated(this.#options.vaultName, secret.name, version);
      eventId = String(events[0]?.id);
      secret.versions.push(version);
      secret.values.push(value);
      delivery = this.#options.fronts.eventGrid.deliver(events);
    }
    this.events.push({ secret, index: secret.versions.length - 1, version, eventId, phase, delivery: await delivery });
  }
}
