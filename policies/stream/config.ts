import { z } from 'zod';

/** Settings shared by the stream-x learners (Elsayed et al. 2024 defaults, one set for all tasks). */
const common = {
  /** Hidden layer sizes. Default [128, 128] for stream-ac, [32, 32] for stream-q and stream-td. */
  hidden: z.array(z.number().int().positive()).min(1).optional(),
  /** Discount γ. Default 0.99. */
  gamma: z.number().gt(0).max(1).default(0.99),
  /** Trace decay λ. Default 0.8. */
  lambda: z.number().min(0).max(1).default(0.8),
  /** ObGD step size α. Default 1.0. */
  lr: z.number().positive().default(1.0),
  /** Fraction of each unit's inputs zeroed at initialisation. Default 0.9. */
  sparsity: z.number().min(0).lt(1).default(0.9),
  /** Normalise observations with running statistics. Default true. */
  normalizeObservations: z.boolean().default(true),
  /** Scale rewards by the running std of the discounted return. Default true. */
  scaleRewards: z.boolean().default(true),
  /** Append the time feature (−0.5 + t/T). Default true. */
  timeFeature: z.boolean().default(true),
  /**
   * Bootstrap from v(s′) when an episode ends by its time limit (truncation), as Pardo et al.
   * (2018) and Gymnasium's terminated/truncated split intend. Default true; `false` zeroes it
   * at any episode end, as stream-x's reference code does (see README: measured effect).
   */
  bootstrapTruncated: z.boolean().default(true),
};

/** Default hidden sizes per learner: the paper's 2×128 for continuous control, 2×32 for classic control. */
export const DEFAULT_HIDDEN = { 'stream-ac': [128, 128], 'stream-q': [32, 32], 'stream-td': [32, 32] } as const;

/** A streaming config with every default filled in (what a run folder's config.yaml records). */
export function resolveStreamConfig<C extends { kind: keyof typeof DEFAULT_HIDDEN; hidden?: number[] | undefined }>(config: C): C & { hidden: number[] } {
  return { ...config, hidden: config.hidden ?? [...DEFAULT_HIDDEN[config.kind]] };
}

export const StreamAcConfigSchema = z
  .object({
    kind: z.literal('stream-ac'),
    ...common,
    /** ObGD κ of the policy. Default 3. */
    kappaPolicy: z.number().positive().default(3),
    /** ObGD κ of the value function. Default 2. */
    kappaValue: z.number().positive().default(2),
    /** Entropy coefficient η. Default 0.01. */
    entropyCoef: z.number().min(0).default(0.01),
  })
  .strict();

export const StreamQConfigSchema = z
  .object({
    kind: z.literal('stream-q'),
    ...common,
    /** ObGD κ. Default 2. */
    kappa: z.number().positive().default(2),
    /** ε decays linearly from epsilonStart to epsilonEnd over this fraction of the run. Default 0.05. */
    explorationFraction: z.number().gt(0).max(1).default(0.05),
    epsilonStart: z.number().min(0).max(1).default(1),
    epsilonEnd: z.number().min(0).max(1).default(0.01),
  })
  .strict();

/**
 * Stream TD(λ): prediction of the value of a fixed policy (no control). Rewards are not scaled
 * by default, so predictions are in the env's reward units and compare with Monte-Carlo returns.
 */
export const StreamTdConfigSchema = z
  .object({
    kind: z.literal('stream-td'),
    ...common,
    scaleRewards: z.boolean().default(false),
    /** The policy whose value is learned: the task's scripted expert or uniform random actions. */
    policy: z.enum(['scripted', 'random']).default('scripted'),
    /** ObGD κ. Default 2. */
    kappa: z.number().positive().default(2),
  })
  .strict();

export type StreamAcConfig = z.output<typeof StreamAcConfigSchema>;
export type StreamQConfig = z.output<typeof StreamQConfigSchema>;
export type StreamTdConfig = z.output<typeof StreamTdConfigSchema>;
export type StreamConfig = StreamAcConfig | StreamQConfig | StreamTdConfig;
