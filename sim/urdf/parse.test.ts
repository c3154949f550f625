import { describe, expect, it } from 'vitest';
import { loadDescription } from '../descriptions.js';
import { forwardKinematics, movableJoints } from './kinematics.js';
import { parseUrdf } from './parse.js';
import { UrdfError } from './types.js';

const link = (name: string, extra = ''): string => `<link name="${name}">${extra}</link>`;
const joint = (name: string, type: string, parent: string, child: string, extra = '<limit lower="-1" upper="1" effort="1" velocity="1"/>'): string =>
  `<joint name="${name}" type="${type}"><parent link="${parent}"/><child link="${child}"/>${extra}</joint>`;
const robot = (body: string): string => `<?xml version="1.0"?><robot name="r">${body}</robot>`;

describe('parseUrdf', () => {
  it('parses links, inertials, collisions, and joints in tree order', () => {
    const r = parseUrdf(
      robot(
        link('base') +
          link('a', '<inertial><origin xyz="0 0 0.1"/><mass value="2"/><inertia ixx="1" ixy="0" ixz="0" iyy="2" iyz="0" izz="3"/></inertial><collision><geometry><box size="0.1 0.2 0.3"/></geometry></collision>') +
          link('b', '<collision><origin xyz="0 0 0.5" rpy="0 1.5707963 0"/><geometry><cylinder radius="0.05" length="1"/></geometry></collision>') +
          joint('j2', 'prismatic', 'a', 'b', '<axis xyz="0 0 2"/><limit lower="-0.5" upper="0.5" effort="10" velocity="1"/>') +
          joint('j1', 'revolute', 'base', 'a', '<origin xyz="1 0 0" rpy="0 0 1.5707963"/><limit lower="-1" upper="1" effort="5" velocity="2"/><dynamics damping="0.3"/>'),
      ),
    );
    expect(r.root).toBe('base');
    expect(r.joints.map((j) => j.name)).toEqual(['j1', 'j2']);
    const a = r.links.find((l) => l.name === 'a');
    expect(a?.inertial?.mass).toBe(2);
    expect(a?.collisions[0]?.geometry).toEqual({ type: 'box', size: [0.1, 0.2, 0.3] });
    expect(r.joints[1]?.axis).toEqual([0, 0, 1]); // normalised
    expect(r.joints[0]?.damping).toBe(0.3);
    expect(r.joints[0]?.limit).toEqual({ lower: -1, upper: 1, effort: 5, velocity: 2 });
  });

  it('treats continuous joints as unbounded and skips mesh collisions with a warning', () => {
    const r = parseUrdf(robot(link('base') + link('w', '<collision><geometry><mesh filename="w.stl"/></geometry></collision>') + joint('j', 'continuous', 'base', 'w', '<limit effort="1" velocity="1"/>')));
    expect(r.joints[0]?.limit?.lower).toBe(-Infinity);
    expect(r.links[1]?.collisions).toHaveLength(0);
    expect(r.warnings[0]).toMatch(/link "w".*mesh "w.stl" skipped/);
  });

  it.each([
    ['malformed XML', '<robot name="r"><link name="a"></robot>', /malformed XML at line/],
    ['no robot element', '<?xml version="1.0"?><foo/>', /missing <robot>/],
    ['revolute joint without limit', robot(link('a') + link('b') + joint('j', 'revolute', 'a', 'b', '')), /joint "j": <limit> is required for revolute/],
    ['unknown parent link', robot(link('a') + link('b') + joint('j', 'fixed', 'nope', 'b', '')), /joint "j" <parent>: unknown link "nope"/],
    ['unsupported joint type', robot(link('a') + link('b') + joint('j', 'floating', 'a', 'b', '')), /joint "j": unsupported type "floating"/],
    ['bad origin numbers', robot(link('a') + link('b') + joint('j', 'fixed', 'a', 'b', '<origin xyz="1 two 3"/>')), /joint "j" <origin> xyz: expected 3 numbers, got "1 two 3"/],
    ['zero axis', robot(link('a') + link('b') + joint('j', 'continuous', 'a', 'b', '<axis xyz="0 0 0"/>')), /joint "j" <axis xyz>: must not be zero/],
    ['negative mass', robot(link('a', '<inertial><mass value="-1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>')), /link "a" <mass value>: expected a mass in \(0, 10000\] kg, got -1/],
    ['a mass of 1e300', robot(link('a', '<inertial><mass value="1e300"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>')), /link "a" <mass value>: expected a mass in \(0, 10000\] kg, got 1e\+300/],
    ['a hex limit', robot(link('a') + link('b') + joint('j', 'revolute', 'a', 'b', '<limit lower="0" upper="0x10" effort="1" velocity="1"/>')), /joint "j" <limit> upper: expected a decimal number, got "0x10"/],
    ['a non-positive-definite inertia', robot(link('a', '<inertial><mass value="1"/><inertia ixx="1" ixy="2" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>')), /link "a" <inertia>: not positive definite/],
    ['an inertia no rigid body has', robot(link('a', '<inertial><mass value="1"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="1"/></inertial>')), /link "a" <inertia>: principal moments .* violate the triangle inequality/],
    ['two roots', robot(link('a') + link('b')), /expected one root link, found 2: a, b/],
    ['cycle', robot(link('a') + link('b') + link('c') + joint('j1', 'fixed', 'a', 'b', '') + joint('j2', 'fixed', 'b', 'c', '') + joint('j3', 'fixed', 'c', 'b', '')), /already has parent joint/],
    ['duplicate link', robot(link('a') + link('a')), /link "a" is defined twice/],
    ['inverted limits', robot(link('a') + link('b') + joint('j', 'revolute', 'a', 'b', '<limit lower="1" upper="-1" effort="1" velocity="1"/>')), /lower \(1\) must not exceed upper \(-1\)/],
    ['geometry with two shapes', robot(link('a', '<collision><geometry><box size="1 1 1"/><sphere radius="1"/></geometry></collision>')), /link "a" <collision> #0 <geometry>: expected exactly one/],
  ])('rejects %s with an error naming the element', (_, xml, message) => {
    expect(() => parseUrdf(xml)).toThrow(UrdfError);
    expect(() => parseUrdf(xml)).toThrow(message);
  });
});

it('repairs an all-zero inertia with a warning (frames that only hold a name have one)', () => {
  const r = parseUrdf(robot(link('a', '<inertial><mass value="0.5"/><inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>')));
  expect(r.links[0]!.inertial!.inertia.ixx).toBeCloseTo(0.4 * 0.5 * 1e-4, 12);
  expect(r.warnings.join('\n')).toMatch(/link "a" <inertia>: all-zero inertia repaired/);
});

describe('the shipped Panda description', () => {
  const panda = loadDescription('panda');

  it('has 7 revolute joints with Franka’s published limits', () => {
    const joints = movableJoints(panda);
    expect(joints.map((j) => j.name)).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `panda_joint${i}`));
    expect(joints.map((j) => j.limit?.lower)).toEqual([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973]);
    expect(joints.map((j) => j.limit?.upper)).toEqual([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973]);
    expect(joints.map((j) => j.limit?.velocity)).toEqual([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61]);
    expect(joints.map((j) => j.limit?.effort)).toEqual([87, 87, 87, 87, 12, 12, 12]);
  });

  it('forward kinematics matches the modified-DH chain at random configurations', () => {
    // Independent reference: T = Π RotX(α_{i−1})·TransX(a_{i−1})·RotZ(θ_i)·TransZ(d_i), flange last.
    const a = [0, 0, 0, 0.0825, -0.0825, 0, 0.088, 0];
    const d = [0.333, 0, 0.316, 0, 0.384, 0, 0, 0.107];
    const alpha = [0, -Math.PI / 2, Math.PI / 2, Math.PI / 2, -Math.PI / 2, Math.PI / 2, Math.PI / 2, 0];
    type M = number[][];
    const mul = (x: M, y: M): M => x.map((row) => y[0]!.map((_, j) => row.reduce((s, v, k) => s + v * y[k]![j]!, 0)));
    const dh = (al: number, aa: number, th: number, dd: number): M => [
      [Math.cos(th), -Math.sin(th), 0, aa],
      [Math.sin(th) * Math.cos(al), Math.cos(th) * Math.cos(al), -Math.sin(al), -dd * Math.sin(al)],
      [Math.sin(th) * Math.sin(al), Math.cos(th) * Math.sin(al), Math.cos(al), dd * Math.cos(al)],
      [0, 0, 0, 1],
    ];
    let seed = 1;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (let trial = 0; trial < 20; trial++) {
      const q = Array.from({ length: 7 }, () => 2 * rand());
      let T: M = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
      for (let i = 0; i < 8; i++) T = mul(T, dh(alpha[i]!, a[i]!, i < 7 ? q[i]! : 0, d[i]!));
      const flange = forwardKinematics(panda, q).get('panda_link8')!.p;
      expect(flange[0]).toBeCloseTo(T[0]![3]!, 6);
      expect(flange[1]).toBeCloseTo(T[1]![3]!, 6);
      expect(flange[2]).toBeCloseTo(T[2]![3]!, 6);
    }
  });

  it('puts the TCP of the ready pose at Franka’s (0.307, 0, 0.487)', () => {
    const tcp = forwardKinematics(panda, [0, -Math.PI / 4, 0, (-3 * Math.PI) / 4, 0, Math.PI / 2, Math.PI / 4]).get('panda_tcp')!.p;
    expect(tcp[0]).toBeCloseTo(0.307, 3);
    expect(tcp[1]).toBeCloseTo(0, 6);
    expect(tcp[2]).toBeCloseTo(0.487, 3);
  });
});
