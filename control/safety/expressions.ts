import { all, create, type MathNode } from 'mathjs';
import { validateAction, type Env, type StepResult } from '../env.js';
import { Wrapper } from '../wrappers/wrapper.js';

/** Values a cost expression may read: numbers and vectors of numbers. */
export type StateVariables = Readonly<Record<string, number | readonly number[]>>;

/** An env that exposes named state variables for cost expressions (joint positions, TCP, …). */
export interface HasStateVariables {
  stateVariables(): StateVariables;
}

/** Pure functions an expression may call. Nothing else is reachable. */
const FUNCTIONS = new Set(['abs', 'sqrt', 'min', 'max', 'norm', 'dot', 'cross', 'subtract', 'add', 'multiply', 'divide', 'sin', 'cos', 'tan', 'atan2', 'exp', 'log', 'pow', 'square', 'sign', 'subset', 'index', 'sum', 'mean', 'distance', 'floor', 'ceil', 'round']);
const NODE_TYPES = new Set(['ConstantNode', 'SymbolNode', 'OperatorNode', 'FunctionNode', 'ParenthesisNode', 'ConditionalNode', 'ArrayNode', 'AccessorNode', 'IndexNode']);
const CONSTANTS = new Set(['pi', 'e', 'true', 'false']);

const math = create(all as NonNullable<typeof all>);
const compileExpression = math.compile;
const parseExpression = math.parse;
// The mathjs security guidance: take away what could reach outside the expression.
const refuse = (name: string) => () => {
  throw new Error(`mathjs function "${name}" is disabled in roborl expressions`);
};
math.import(Object.fromEntries(['import', 'createUnit', 'reviver', 'evaluate', 'parse', 'compile', 'simplify', 'derivative', 'resolve'].map((n) => [n, refuse(n)])), { override: true });

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
    tree = parseExpression(expression);
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
  const code = compileExpression(expression);
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
    return out;
  };
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
  private readonly costs: ((vars: StateVariables) => number)[];

  constructor(
    env: Env,
    private readonly state: HasStateVariables,
    declarations: readonly CostDeclaration[],
    /** Id of the constrained variant (default: the env's own). */
    id = env.spec.id,
  ) {
    super(env, { ...env.spec, id, constraints: [...env.spec.constraints, ...declarations.map((d) => d.name)] });
    const names = declarations.map((d) => d.name);
    const clash = names.find((n, i) => env.spec.constraints.includes(n) || names.indexOf(n) !== i);
    if (clash) throw new Error(`constraint "${clash}" is declared twice (or already defined by ${env.spec.id})`);
    const variables = Object.keys(state.stateVariables());
    this.costs = declarations.map((d) => compileCost(d.cost, variables));
  }

  override async step(action: Float32Array): Promise<StepResult> {
    validateAction(this.spec, action); // errors name this env's id, not the inner one's
    const r = await this.env.step(action);
    const vars = this.state.stateVariables();
    const costs = new Float32Array(this.spec.constraints.length);
    costs.set(r.costs);
    this.costs.forEach((c, i) => (costs[r.costs.length + i] = c(vars)));
    return { ...r, costs };
  }
}
