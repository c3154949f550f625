import { createRequire } from 'node:module';
import type { MathNode } from 'mathjs';
import { validateAction, type Env, type StepResult } from '../env.js';
import { Rng } from '../rng.js';
import { Wrapper } from '../wrappers/wrapper.js';

/** Values a cost expression may read: numbers and vectors of numbers. */
export type StateVariables = Readonly<Record<string, number | readonly number[]>>;

/** The range each state variable can take: [low, high] for a number, per element for a vector. */
export type StateBounds = Readonly<Record<string, readonly [number, number] | readonly [readonly number[], readonly number[]]>>;

/** An env that exposes named state variables for cost expressions (joint positions, TCP, …). */
export interface HasStateVariables {
  stateVariables(): StateVariables;
  /** The variables' ranges, for checking expressions over every reachable state at load. */
  stateBounds?(): StateBounds;
}

/** Pure functions an expression may call. Nothing else is reachable. */
const FUNCTIONS = new Set(['abs', 'sqrt', 'min', 'max', 'norm', 'dot', 'cross', 'subtract', 'add', 'multiply', 'divide', 'sin', 'cos', 'tan', 'atan2', 'exp', 'log', 'pow', 'square', 'sign', 'subset', 'index', 'sum', 'mean', 'distance', 'floor', 'ceil', 'round']);
const NODE_TYPES = new Set(['ConstantNode', 'SymbolNode', 'OperatorNode', 'FunctionNode', 'ParenthesisNode', 'ConditionalNode', 'ArrayNode', 'AccessorNode', 'IndexNode']);
const CONSTANTS = new Set(['pi', 'e', 'true', 'false']);

/**
 * mathjs, loaded on first use: importing it costs ~1 s, which every CLI command paid (even
 * `--help`) when it was loaded up front. It is created once, with what could reach outside an
 * expression taken away (the mathjs security guidance).
 */
type MathJs = ReturnType<typeof import('mathjs')['create']>;
interface Expressions {
  readonly parse: MathJs['parse'];
  readonly compile: MathJs['compile'];
  readonly matrix: MathJs['matrix'];
}
let loaded: Expressions | null = null;
function mathjs(): Expressions {
  if (loaded) return loaded;
  const { all, create } = createRequire(import.meta.url)('mathjs') as typeof import('mathjs');
  const math = create(all as NonNullable<typeof all>);
  // Ours, taken before the expression scope loses them.
  loaded = { parse: math.parse, compile: math.compile, matrix: math.matrix };
  const refuse = (name: string) => () => {
    throw new Error(`mathjs function "${name}" is disabled in roborl expressions`);
  };
  math.import(Object.fromEntries(['import', 'createUnit', 'reviver', 'evaluate', 'parse', 'compile', 'simplify', 'derivative', 'resolve'].map((n) => [n, refuse(n)])), { override: true });
  return loaded;
}

/**
 * Compiles a cost expression over named variables, in a restricted scope: the AST may contain
 * only constants, the given variables, arithmetic / comparison / logic operators, indexing,
 * conditionals and the pure functions in FUNCTIONS (no assignment, no function definitions,
 * no imports, no access to anything but the provided variables). Booleans become 0/1.
 * The result must be a finite number: anything else throws a clear error naming the expression.
 */
export function compileCost(expression: string, variables: readonly string[]): (vars: StateVariables) => number {
  let tree: MathNode;
  try {
    tree = mathjs().parse(expression);
  } catch (err) {
    throw new Error(`cost expression "${expression}": ${(err as Error).message}`);
  }
  const allowed = new Set(variables);
  tree.traverse((node: MathNode, _path: string, parent: MathNode | null) => {
    if (!NODE_TYPES.has(node.type)) throw new Error(`cost expression "${expression}": ${node.type} is not allowed (only arithmetic, comparisons, conditionals, indexing and pure functions)`);
    if (node.type === 'SymbolNode') {
      const name = (node as MathNode & { name: string }).name;
      const isCallee = parent?.type === 'FunctionNode' && (parent as MathNode & { fn: MathNode }).fn === node;
      if (isCallee ? !FUNCTIONS.has(name) : !allowed.has(name) && !CONSTANTS.has(name)) {
        throw new Error(`cost expression "${expression}": unknown ${isCallee ? 'function' : 'variable'} "${name}" (${isCallee ? `functions: ${[...FUNCTIONS].join(', ')}` : `variables: ${variables.join(', ')}`})`);
      }
    }
    if (node.type === 'FunctionNode' && (node as MathNode & { fn: MathNode }).fn.type !== 'SymbolNode') throw new Error(`cost expression "${expression}": only named functions may be called`);
  });
  const math = mathjs();
  const code = math.compile(expression);
  return (vars) => {
    const scope = new Map<string, unknown>();
    for (const v of variables) {
      const value = vars[v];
      if (value === undefined) throw new Error(`cost expression "${expression}": variable "${v}" has no value`);
      scope.set(v, typeof value === 'number' ? value : math.matrix([...value]));
    }
    let out = code.evaluate(scope) as unknown;
    if (typeof out === 'boolean') out = out ? 1 : 0;
    if (typeof out !== 'number' || !Number.isFinite(out)) throw new Error(`cost expression "${expression}" gave ${String(out)}, expected a finite number`);
    if (out < 0) throw new Error(`cost expression "${expression}" gave ${out}: costs must be ≥ 0`);
    return out;
  };
}

/**
 * Evaluates a compiled cost over the states an env can reach — every corner-ish extreme and
 * 256 random states within `bounds` (or, without bounds, within ±10× of the current values) —
 * so an expression that can go complex, infinite or negative fails when the config is loaded,
 * naming the state, not at step ~200 of a run.
 */
export function probeCost(cost: (vars: StateVariables) => number, current: StateVariables, bounds: StateBounds | undefined, rng: { uniform(lo: number, hi: number): number }): void {
  const names = Object.keys(current);
  const range = (name: string): [number[], number[]] => {
    const v = current[name] as number | readonly number[];
    const b = bounds?.[name];
    const values = typeof v === 'number' ? [v] : [...v];
    if (b) {
      const [lo, hi] = b;
      return [typeof lo === 'number' ? [lo] : [...lo], typeof hi === 'number' ? [hi as number] : [...(hi as readonly number[])]];
    }
    return [values.map((x) => x - 10 * Math.max(1, Math.abs(x))), values.map((x) => x + 10 * Math.max(1, Math.abs(x)))];
  };
  const ranges = Object.fromEntries(names.map((n) => [n, range(n)]));
  const draw = (pick: (lo: number, hi: number) => number): StateVariables =>
    Object.fromEntries(
      names.map((n) => {
        const [lo, hi] = ranges[n] as [number[], number[]];
        const xs = lo.map((l, i) => pick(l, hi[i] as number));
        return [n, typeof current[n] === 'number' ? (xs[0] as number) : xs];
      }),
    );
  const states = [draw((l) => l), draw((_, h) => h), draw((l, h) => (l + h) / 2), draw(() => 0), ...Array.from({ length: 256 }, () => draw((l, h) => rng.uniform(l, h)))];
  for (const state of states) {
    try {
      cost(state);
    } catch (err) {
      const where = names.map((n) => `${n} = ${JSON.stringify(state[n], (_k, x: unknown) => (typeof x === 'number' ? Number(x.toFixed(3)) : x))}`).join(', ');
      throw new Error(`${(err as Error).message} at ${where} (a state within ${bounds ? "the task's state bounds" : 'the probed range'}): every reachable state must give a finite cost ≥ 0`);
    }
  }
}

/** One named constraint declared in a config: its per-step cost as an expression. */
export interface CostDeclaration {
  readonly name: string;
  /** mathjs expression over the env's state variables, e.g. `norm(tcp - [0.45, 0, 0.35]) < 0.08`. */
  readonly cost: string;
}

/**
 * Adds named constraint costs computed from the env's state (after each step) by the
 * declared expressions. Names must not clash with the env's own constraints.
 */
export class ExpressionConstraints extends Wrapper {
  private costs: ((vars: StateVariables) => number)[] | null = null;

  constructor(
    env: Env,
    private readonly state: HasStateVariables,
    private readonly declarations: readonly CostDeclaration[],
    /** Id of the constrained variant (default: the env's own). */
    id = env.spec.id,
  ) {
    super(env, { ...env.spec, id, constraints: [...env.spec.constraints, ...declarations.map((d) => d.name)] });
    const names = declarations.map((d) => d.name);
    const clash = names.find((n, i) => env.spec.constraints.includes(n) || names.indexOf(n) !== i);
    if (clash) throw new Error(`constraint "${clash}" is declared twice (or already defined by ${env.spec.id})`);
  }

  /**
   * Compiles every expression and checks it over the task's reachable states (probeCost); the
   * first step does this too. Call it where a config is loaded, so a bad expression fails there.
   */
  check(): this {
    if (this.costs) return this;
    const current = this.state.stateVariables();
    const variables = Object.keys(current);
    const rng = new Rng(0);
    this.costs = this.declarations.map((d) => {
      const cost = compileCost(d.cost, variables);
      probeCost(cost, current, this.state.stateBounds?.(), rng);
      return cost;
    });
    return this;
  }

  override async step(action: Float32Array): Promise<StepResult> {
    validateAction(this.spec, action); // errors name this env's id, not the inner one's
    const compiled = this.check().costs as ((vars: StateVariables) => number)[];
    const r = await this.env.step(action);
    const vars = this.state.stateVariables();
    const costs = new Float32Array(this.spec.constraints.length);
    costs.set(r.costs);
    compiled.forEach((c, i) => (costs[r.costs.length + i] = c(vars)));
    return { ...r, costs };
  }
}
