import { z } from 'zod';

/** SAC-Lagrangian settings: see policies/safe/lagrange.ts for the multiplier updates. */
export const SafeConfigSchema = z
  .object({
    /** Constraint name (as the env's spec.constraints) → limit on its mean episode cost. */
    constraints: z.record(z.string(), z.object({ limit: z.number().nonnegative() }).strict()).refine((r) => Object.keys(r).length > 0, 'at least one constraint'),
    /** Multiplier update: plain projected gradient ascent, or PID (Stooke et al. 2020). */
    method: z.enum(['lagrangian', 'pid']).default('lagrangian'),
    /** Initial λ (every constraint). Default 0. */
    init: z.number().nonnegative().default(0),
    /** Largest λ. Default 100. */
    max: z.number().positive().default(100),
    /** Step size of the `lagrangian` update (one update per `window` episodes). Default 0.05. */
    lr: z.number().positive().default(0.05),
    /** PID gains (off-policy scale). Defaults 0.1 / 0.01 / 0.01 (OmniSafe's on-policy defaults). */
    kp: z.number().nonnegative().default(0.1),
    ki: z.number().nonnegative().default(0.01),
    kd: z.number().nonnegative().default(0.01),
    /** EMA weight of the newest update in the PID's P and D terms. Default 0.1. */
    ema: z.number().gt(0).max(1).default(0.1),
    /** Multiplier updates between the cost EMAs the D term compares. Default 10. */
    delay: z.number().int().positive().default(10),
    /** Training episodes per multiplier update; J_c is their mean episode cost. Default 5. */
    window: z.number().int().positive().default(5),
    /**
     * Cost critics per constraint. With more than one, the actor and the bootstrap use their
     * maximum (a pessimistic cost, the mirror of clipped double-Q). Default 2.
     */
    costCritics: z.number().int().positive().default(2),
    /**
     * Discount of the cost critics. Below the reward's γ, Q_c measures nearer-term risk: the
     * penalty gradient concentrates where a violation is a few steps away instead of spreading
     * over the state space. Default: `gamma`. Needs `nStep: 1` when it differs from `gamma`.
     */
    costGamma: z.number().gt(0).lt(1).optional(),
    /** Cost critics' Adam learning rate. Default: the critics' rate. */
    costLr: z.number().positive().optional(),
  })
  .strict();

export type SafeConfig = z.output<typeof SafeConfigSchema>;

/** The conv image encoder (policies/encoder/conv-encoder.ts): DrQ's small conv net. */
export const EncoderConfigSchema = z
  .object({
    kind: z.literal('conv'),
    /** Channels of every 3×3 convolution. Default 32 (DrQ). */
    filters: z.number().int().positive().default(32),
    /** One stride per convolution. Default [2, 2, 1, 1]: DrQ's four layers, the second also strided for 64×64 frames (~10 MFLOP per frame). */
    strides: z.array(z.number().int().positive()).min(1).default([2, 2, 1, 1]),
    /** Feature vector size per camera (linear + LayerNorm + tanh). Default 50 (DrQ). */
    features: z.number().int().positive().default(50),
    /** DrQ random-shift padding in pixels, applied to obs and next obs independently; 0 turns augmentation off. Default 4. */
    pad: z.number().int().nonnegative().default(4),
    /**
     * Start from another run's encoders: its run folder (newest checkpoint) or a checkpoint file,
     * each camera's encoder matched by camera name and checked by shape (the same cameras, sizes
     * and encoder settings). Relative to the config file. No npm package ships pretrained conv
     * weights that install offline (tfjs-models' MobileNet downloads its weights at run time), so
     * the weights come from roborl runs: an encoder trained on one task, reused on another.
     */
    init: z.string().min(1).optional(),
    /** Keep the encoders fixed (no gradient, no Polyak): with `init`, a pretrained feature extractor; updates skip the conv backward. Default false. */
    frozen: z.boolean().default(false),
  })
  .strict();

export type EncoderConfig = z.output<typeof EncoderConfigSchema>;

/**
 * SAC / RLPD hyper-parameters. Every field has a documented default; `preset: rlpd` switches the
 * defaults to the SERL/RLPD recipe (shared/facts/off-policy-serl.md) and explicit fields still win.
 */
export const SacConfigSchema = z
  .object({
    kind: z.literal('sac'),
    /** `sac`: Haarnoja et al. 2018 as in SB3/CleanRL. `rlpd`: LayerNorm, 10 critics (REDQ min over 2), no entropy backup, tanh, α₀ 0.01, target entropy −|A|/2, critic_actor_ratio 8. */
    preset: z.enum(['sac', 'rlpd']).default('sac'),
    /** Hidden layer sizes of actor and critics. Default [256, 256]. */
    hidden: z.array(z.number().int().positive()).min(1).optional(),
    /** LayerNorm before each hidden activation. sac: false, rlpd: true. */
    layerNorm: z.boolean().optional(),
    /** Hidden activation. sac: relu, rlpd: tanh. */
    activation: z.enum(['relu', 'tanh', 'elu']).optional(),
    /** Critic ensemble size E. sac: 2, rlpd: 10. */
    critics: z.number().int().min(1).optional(),
    /** M: the target is the min over a random subset of M target critics (REDQ). Default 2 (capped at E). */
    criticSubset: z.number().int().min(1).optional(),
    /** Actor loss uses the min (sac) or the mean (rlpd, as SERL) of the ensemble's Q. */
    actorQ: z.enum(['min', 'mean']).optional(),
    /** Subtract α·log π(a′|s′) in the critic target. sac: true, rlpd: false. */
    backupEntropy: z.boolean().optional(),
    /** Discount γ. Default 0.99. */
    gamma: z.number().gt(0).lt(1).default(0.99),
    /** Polyak τ for target critics. Default 0.005. */
    tau: z.number().gt(0).max(1).default(0.005),
    /** Adam learning rates. Default 3e-4 each. */
    actorLr: z.number().positive().default(3e-4),
    criticLr: z.number().positive().default(3e-4),
    alphaLr: z.number().positive().default(3e-4),
    /** Initial temperature α. sac: 1.0 (SB3 "auto"), rlpd: 0.01. */
    initAlpha: z.number().positive().optional(),
    /** Target entropy; `auto` is −|A| (sac) or −|A|/2 (rlpd). */
    targetEntropy: z.union([z.literal('auto'), z.number()]).default('auto'),
    /** Fixed α (no temperature learning) when false. Default true. */
    learnAlpha: z.boolean().default(true),
    /** Log-std bounds of the Gaussian before tanh. Default [−5, 2]. */
    logStdMin: z.number().default(-5),
    logStdMax: z.number().default(2),
    /** Batch size. Default 256. */
    batchSize: z.number().int().positive().default(256),
    /** Critic updates per actor update. sac: 1, rlpd: 8. */
    criticActorRatio: z.number().int().positive().optional(),
    /** Update-to-data ratio: learner update rounds per env step. Default 1. */
    utd: z.number().int().positive().default(1),
    /** n-step returns. Default 1. */
    nStep: z.number().int().positive().default(1),
    /** Replay capacity (transitions). Default 1,000,000 (capped at the run's total steps). */
    bufferSize: z.number().int().positive().default(1_000_000),
    /** Env steps of uniform random actions before the policy acts and updates start. Default 1000. */
    learningStarts: z.number().int().nonnegative().default(1000),
    /**
     * Demonstrations: a demo file and the fraction of each batch drawn from it (RLPD: 0.5); and how
     * `roborl record-demos --config` records that file (its defaults for --episodes, default 20,
     * and --starts, default all; --out defaults to `path` for that recording). A demo file
     * labelled with another recording is refused where these are given (experiment/setup.ts
     * `checkDemoRecipe`).
     */
    demos: z
      .object({
        path: z.string().min(1),
        ratio: z.number().gt(0).lt(1).default(0.5),
        episodes: z.number().int().positive().optional(),
        starts: z.enum(['all', 'spread']).optional(),
      })
      .strict()
      .optional(),
    /**
     * Constrained learning (SAC-Lagrangian): a cost critic and a Lagrange multiplier for each
     * named constraint of the env, each with its own limit on the episode cost.
     */
    safe: SafeConfigSchema.optional(),
    /**
     * When a shield or a safety limit changed the action: learn from the `executed` action (the
     * filter is part of the policy's output) or the `proposed` one (the filter is part of the env).
     */
    learnFrom: z.enum(['executed', 'proposed']).default('executed'),
    /** Reward penalty k·‖proposed − executed‖² on corrected steps, so the policy learns not to need the filter. Default 0. */
    correctionPenalty: z.number().nonnegative().default(0),
    /**
     * Image observations: an encoder per camera, trained end to end by the critic loss and shared
     * with the actor (detached), as SERL; its features are concatenated before the state vector.
     * Absent: the env must observe a state vector only.
     */
    encoder: EncoderConfigSchema.optional(),
  })
  .strict();

export type SacConfigInput = z.input<typeof SacConfigSchema>;

/** The fully resolved SAC configuration (preset applied). */
export interface SacConfig extends Required<Omit<z.output<typeof SacConfigSchema>, 'demos' | 'safe' | 'encoder'>> {
  readonly demos?: { readonly path: string; readonly ratio: number; readonly episodes?: number; readonly starts?: 'all' | 'spread' };
  readonly encoder?: EncoderConfig;
  readonly safe?: SafeConfig;
  readonly hidden: number[];
  readonly layerNorm: boolean;
  readonly activation: 'relu' | 'tanh' | 'elu';
  readonly critics: number;
  readonly criticSubset: number;
  readonly actorQ: 'min' | 'mean';
  readonly backupEntropy: boolean;
  readonly initAlpha: number;
  readonly criticActorRatio: number;
}

/** Applies the preset defaults to a parsed config. */
export function resolveSacConfig(c: z.output<typeof SacConfigSchema>): SacConfig {
  const rlpd = c.preset === 'rlpd';
  const critics = c.critics ?? (rlpd ? 10 : 2);
  const criticSubset = c.criticSubset ?? 2;
  if (criticSubset > critics) throw new Error(`algo.criticSubset (${criticSubset}) cannot exceed algo.critics (${critics})`);
  if (c.safe?.costGamma !== undefined && c.safe.costGamma !== c.gamma && c.nStep > 1) throw new Error(`algo.safe.costGamma (${c.safe.costGamma}) differs from algo.gamma (${c.gamma}): that needs algo.nStep 1 (n-step cost sums are discounted with gamma), got ${c.nStep}`);
  return {
    ...c,
    hidden: c.hidden ?? [256, 256],
    layerNorm: c.layerNorm ?? rlpd,
    activation: c.activation ?? (rlpd ? 'tanh' : 'relu'),
    critics,
    criticSubset,
    actorQ: c.actorQ ?? (rlpd ? 'mean' : 'min'),
    backupEntropy: c.backupEntropy ?? !rlpd,
    initAlpha: c.initAlpha ?? (rlpd ? 0.01 : 1.0),
    criticActorRatio: c.criticActorRatio ?? (rlpd ? 8 : 1),
  };
}
