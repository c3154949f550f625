"""PyTorch reference for `npm run bench -- learner`: the same SAC update as roborl's learner.

Batch 256, 256x256 MLPs (ReLU), 2 critics, obs 17, action 6; one update = critic step (min
over 2 targets, entropy backup), actor step, temperature step, Polyak averaging (CleanRL's
sac_continuous_action, with the actor's log-std bounded by tanh as there). Prints one JSON
line per thread count: {"threads", "sacUpdateMs", "sacUpdateCpuMs", "inferP50Us", "inferP99Us", "torch"}.
Usage: python3 bench/torch_sac.py 1 2
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

OBS, ACT, HIDDEN, BATCH = 17, 6, 256, 256
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def mlp(inp, out):
    return nn.Sequential(nn.Linear(inp, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, out))


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = mlp(OBS, 2 * ACT)

    def forward(self, obs):
        mean, raw = self.net(obs).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        a = torch.tanh(u)
        log_prob = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return a, log_prob


def measure(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    actor = Actor()
    qs = [mlp(OBS + ACT, 1) for _ in range(2)]
    targets = [mlp(OBS + ACT, 1) for _ in range(2)]
    for t, q in zip(targets, qs):
        t.load_state_dict(q.state_dict())
    log_alpha = torch.zeros(1, requires_grad=True)
    q_opt = torch.optim.Adam([p for q in qs for p in q.parameters()], lr=3e-4)
    a_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    al_opt = torch.optim.Adam([log_alpha], lr=3e-4)
    obs, act, nxt = torch.randn(BATCH, OBS) * 0.5, torch.rand(BATCH, ACT) * 2 - 1, torch.randn(BATCH, OBS) * 0.5
    rew, disc = torch.randn(BATCH) * 0.5, torch.full((BATCH,), 0.99)

    def update():
        alpha = log_alpha.exp().item()
        with torch.no_grad():
            a2, lp2 = actor(nxt)
            x2 = torch.cat([nxt, a2], 1)
            qn = torch.min(targets[0](x2), targets[1](x2)).view(-1) - alpha * lp2
            y = rew + disc * qn
        x = torch.cat([obs, act], 1)
        q_loss = sum(0.5 * F.mse_loss(q(x).view(-1), y) for q in qs)
        q_opt.zero_grad()
        q_loss.backward()
        q_opt.step()
        a, lp = actor(obs)
        xa = torch.cat([obs, a], 1)
        a_loss = (alpha * lp - torch.min(qs[0](xa), qs[1](xa)).view(-1)).mean()
        a_opt.zero_grad()
        a_loss.backward()
        a_opt.step()
        al_loss = (-log_alpha.exp() * (lp.detach() + -ACT)).mean()
        al_opt.zero_grad()
        al_loss.backward()
        al_opt.step()
        with torch.no_grad():
            for t, q in zip(targets, qs):
                for pt, pq in zip(t.parameters(), q.parameters()):
                    pt.mul_(0.995).add_(pq, alpha=0.005)

    for _ in range(10):
        update()
    times = []
    c0 = time.process_time()
    for _ in range(60):
        t0 = time.perf_counter()
        update()
        times.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - c0) * 1000 / 60
    times.sort()
    infer = []
    o1 = torch.randn(1, OBS)
    with torch.no_grad():
        for i in range(5000):
            t0 = time.perf_counter_ns()
            actor(o1)[0].numpy()
            if i >= 500:
                infer.append((time.perf_counter_ns() - t0) / 1000)
    infer.sort()
    return {"threads": threads, "sacUpdateMs": times[len(times) // 2], "sacUpdateCpuMs": cpu_ms, "inferP50Us": infer[len(infer) // 2], "inferP99Us": infer[int(0.99 * (len(infer) - 1))], "torch": torch.__version__}


if __name__ == "__main__":
    for n in sys.argv[1:] or ["1"]:
        print(json.dumps(measure(int(n))), flush=True)
