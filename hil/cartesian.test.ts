import { describe, expect, it } from 'vitest';
import { CartesianTeleop } from './cartesian.js';
import { IDLE, type TeleopContext, type TeleopDevice, type TeleopOutcome, type TeleopReading } from './device.js';

/** A device that answers with a fixed reading and keeps what it was shown and told. */
class Recording implements TeleopDevice {
  readonly name = 'recording';
  readonly seen: TeleopContext[] = [];
  readonly told: TeleopOutcome[] = [];
  constructor(private readonly reading: TeleopReading) {}
  poll(context: TeleopContext): TeleopReading {
    this.seen.push(context);
    return this.reading;
  }
  stepped(outcome: TeleopOutcome): void {
    this.told.push(outcome);
  }
  async close(): Promise<void> {}
}

// A stand-in kinematics: an 8-entry action (7 joints, then the gripper) whose first three entries move the TCP 1:1.
const toAction = (_obs: Float32Array, v: Float32Array): Float32Array => Float32Array.of(v[0] as number, v[1] as number, v[2] as number, 0, 0, 0, 0, 0);
const fromAction = (_obs: Float32Array, a: Float32Array): Float32Array => Float32Array.of(a[0] as number, a[1] as number, a[2] as number);
const context: TeleopContext = { obs: Float32Array.of(0), proposed: Float32Array.of(0.1, -0.2, 0.3, 0.9, 0.9, 0.9, 0.9, -1), t: 0 };

describe('CartesianTeleop', () => {
  it('shows the inner device the proposal in the tool frame, never the joint deltas; without a converter it shows none', () => {
    const inner = new Recording(IDLE);
    new CartesianTeleop(inner, { toAction, fromAction }).poll(context);
    expect(Array.from(inner.seen[0]?.proposed ?? [])).toEqual([0.1, -0.2, 0.3].map((x) => expect.closeTo(x, 6)));
    const bare = new Recording(IDLE);
    new CartesianTeleop(bare, toAction).poll(context);
    expect(bare.seen[0]?.proposed.length).toBe(0);
  });

  it('converts the proposal only when the inner device looks at it (keys and a SpaceMouse never do)', () => {
    let conversions = 0;
    const counting = (obs: Float32Array, a: Float32Array): Float32Array => (conversions++, fromAction(obs, a));
    const blind: TeleopDevice = { name: 'blind', poll: () => IDLE, close: async () => {} };
    const device = new CartesianTeleop(blind, { toAction, fromAction: counting });
    for (let t = 0; t < 5; t++) device.poll({ ...context, t });
    expect(conversions).toBe(0);
    const looking = new Recording(IDLE);
    new CartesianTeleop(looking, { toAction, fromAction: counting }).poll(context);
    expect(looking.seen[0]?.proposed[1]).toBeCloseTo(-0.2, 6);
    expect(looking.seen[0]?.proposed[2]).toBeCloseTo(0.3, 6);
    expect(conversions).toBe(1);
  });

  it('with a gripper, the fourth axis drives it and the proposal\'s gripper is shown as that axis', () => {
    const inner = new Recording({ ...IDLE, engaged: true, action: Float32Array.of(0, 0, -1, 0.7) });
    const device = new CartesianTeleop(inner, { toAction, fromAction, gripper: 7 });
    expect(device.axes).toBe(4);
    const r = device.poll(context);
    expect(Array.from(r.action ?? [])).toEqual([0, 0, -1, 0, 0, 0, 0, expect.closeTo(0.7, 6)]);
    expect(Array.from(inner.seen[0]?.proposed ?? [])).toEqual([0.1, -0.2, 0.3, -1].map((x) => expect.closeTo(x, 6)));
    // Three axes only (a key pad): the gripper keeps what the kinematics gave it.
    const three = new CartesianTeleop(new Recording({ ...IDLE, engaged: true, action: Float32Array.of(1, 0, 0) }), { toAction, gripper: 7 });
    expect(three.poll(context).action?.[7]).toBe(0);
  });

  it('passes what each step came to on to the inner device', () => {
    const inner = new Recording(IDLE);
    new CartesianTeleop(inner, toAction).stepped({ reward: -1, success: true, terminated: true, truncated: false });
    expect(inner.told).toEqual([{ reward: -1, success: true, terminated: true, truncated: false }]);
  });
});
