// Drives a build's own Runner.make (effect/runner.ts, as edited) under the release's Bun, with the
// Effect, Deferred and Fiber modules of the same bundle: three fixed sequences, each printed as one
// JSON line of what happened, in order. Used by tests/test_build_runner.py; argv[2] is a JSON object
// {runner: [path, export], effect: [path, export], deferred: [...], fiber: [...]}.
const where = JSON.parse(process.argv[2]);
const load = async ([path, name]) => (await import(path))[name];
const Runner = await load(where.runner);
const Effect = await load(where.effect);
const Deferred = await load(where.deferred);
const Fiber = await load(where.fiber);
// Let every other fiber run as far as it can: yields go through the fiber scheduler's queue, in
// order, so how far the others get does not depend on the machine's speed (a sleep would).
const settle = Effect.gen(function* () {
  for (let i = 0; i < 500; i++) yield* Effect.yieldNow;
});

function setup(log, scope) {
  const runner = Runner.make(scope, {
    onIdle: Effect.sync(() => log.push("onIdle")),
    onInterrupt: Effect.sync(() => "cancelled"),
  });
  const gates = {};
  const cleanups = {};
  // a run that waits for its gate; interrupted, its cleanup waits for its own gate (as the
  // processor's cleanup waits for an aborted tool)
  const work = (name) =>
    Effect.gen(function* () {
      gates[name] = yield* Deferred.make();
      cleanups[name] = yield* Deferred.make();
      log.push("start " + name);
      yield* Deferred.await(gates[name]);
      log.push("end " + name);
      return name;
    }).pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function* () {
          log.push("interrupted " + name);
          yield* Deferred.await(cleanups[name]);
          log.push("cleaned " + name);
        }),
      ),
    );
  const fork = (eff) => Effect.forkChild(Effect.result(eff));
  const outcome = (f) =>
    Effect.map(Fiber.join(f), (r) => (r._tag === "Success" ? r.success : "fail " + (r.failure?._tag ?? "?")));
  const state = (what) => log.push(what + " " + runner.state._tag + " queue=" + (runner.state.queue?.length ?? 0));
  const release = (name) =>
    Effect.gen(function* () {
      if (gates[name]) yield* Deferred.succeed(gates[name], undefined);
      yield* settle;
    });
  return { runner, cleanups, work, fork, outcome, state, release };
}

const overlap = Effect.gen(function* () {
  const log = [];
  const t = setup(log, yield* Effect.scope);
  const a = yield* t.fork(t.runner.ensureRunning(t.work("a")));
  yield* settle;
  const b = yield* t.fork(t.runner.ensureRunning(t.work("b")));
  yield* settle;
  t.state("b sent:");
  yield* t.release("a");
  yield* t.release("b");
  return { log, a: yield* t.outcome(a), b: yield* t.outcome(b), end: t.runner.state._tag };
});

const cancel = Effect.gen(function* () {
  const log = [];
  const t = setup(log, yield* Effect.scope);
  const a = yield* t.fork(t.runner.ensureRunning(t.work("a")));
  yield* settle;
  const b = yield* t.fork(t.runner.ensureRunning(t.work("b")));
  yield* settle;
  const c = yield* Effect.forkChild(t.runner.cancel);
  yield* settle;
  t.state("cancelling:");
  const d = yield* t.fork(t.runner.ensureRunning(t.work("d")));
  yield* settle;
  yield* Deferred.succeed(t.cleanups.a, undefined);
  yield* settle;
  yield* Fiber.join(c);
  t.state("cancelled:");
  yield* t.release("b");
  yield* t.release("d");
  return { log, a: yield* t.outcome(a), b: yield* t.outcome(b), d: yield* t.outcome(d), end: t.runner.state._tag };
});

const shell = Effect.gen(function* () {
  const log = [];
  const t = setup(log, yield* Effect.scope);
  const s = yield* t.fork(t.runner.startShell(t.work("s")));
  yield* settle;
  const b = yield* t.fork(t.runner.ensureRunning(t.work("b")));
  yield* settle;
  const c = yield* t.fork(t.runner.ensureRunning(t.work("c")));
  yield* settle;
  t.state("c sent:");
  for (const n of ["s", "b", "c"]) yield* t.release(n);
  return { log, s: yield* t.outcome(s), b: yield* t.outcome(b), c: yield* t.outcome(c), end: t.runner.state._tag };
});

const out = {};
for (const [name, prog] of [["overlap", overlap], ["cancel", cancel], ["shell", shell]]) {
  out[name] = await Effect.runPromise(Effect.scoped(prog));
}
console.log(JSON.stringify(out));
process.exit(0);
