/*
 * opencode v1.15.4's per-session turn boundary in Promela, hand-written from turnproof's model
 * (model/fibers.py, model/runner.py, model/world.py; design specs/designs/v1.15.4.toml) for the
 * SPIN comparison of bench/run.py. One of the three scenarios is chosen at `spin -a` time:
 *
 *   spin -DTOOL_RACE -a turn.pml       specs/scenarios/tool-race.toml      (granularity await)
 *   spin -DTWO_INSTANCES -a turn.pml   specs/scenarios/two-instances.toml  (granularity await)
 *   spin -DIDLE_WINDOW -a turn.pml     specs/scenarios/idle-window.toml    (granularity effect)
 *
 * and the property asked with -DTURN_BINDING or -DTERMINAL_SIBLINGS (no-terminal-siblings).
 *
 * Each d_step below is one atomic step of a turnproof fiber (the pc named in its comment), so
 * an interleaving of Promela processes is a fiber schedule. What turnproof keeps only for its
 * traces (labels, the ids a request sent to the model, request results, event texts) is left
 * out; docs/scale.md says how that changes the state count. Every id here is minted by the
 * server when its message is written, so id order is write order: message i is the i-th write.
 *
 * The properties are asserted in the step that can break them: turn-binding when a loop writes
 * an assistant, no-terminal-siblings when an assistant gets finish=stop. A step that would write
 * past the scenario's bound (max_messages) is not enabled: turnproof cuts it, explores nothing
 * after it, and the other fibers go on from the world before it (run pan with -E).
 */

#define NONE 255
#define USER 1
#define ASSISTANT 2
#define STOP 1          /* finish = "stop" */
#define TOOL_CALLS 2    /* finish = "tool-calls" */
#define RUNNING 1       /* tool part running; runner tag Running */
#define COMPLETED 2     /* tool part completed */

#if defined(TOOL_RACE)
#define MAXMSG 12
#define NPROMPT 2
#define NINST 1
#define EFFECT 0
/* U1: web, prompt_async, one tool round-trip; U2: web, prompt (blocking), after U1 */
#define ASKS(p) (p == 0 -> 1 : 0)
#define AFTER(p) (p == 1 -> 0 : NONE)
#define INST(p) 0
#elif defined(TWO_INSTANCES)
#define MAXMSG 8
#define NPROMPT 2
#define NINST 2
#define EFFECT 0
/* U1: web, instance 0, one tool round-trip; W1: plugin, instance 1 */
#define ASKS(p) (p == 0 -> 1 : 0)
#define AFTER(p) NONE
#define INST(p) p
#elif defined(IDLE_WINDOW)
#define MAXMSG 9
#define NPROMPT 3
#define NINST 1
#define EFFECT 1
/* U1, U2, U3: web, prompt_async, each after the previous one was accepted */
#define ASKS(p) 0
#define AFTER(p) (p == 0 -> NONE : p - 1)
#define INST(p) 0
#else
#error "define TOOL_RACE, TWO_INSTANCES or IDLE_WINDOW"
#endif
#if !defined(TURN_BINDING) && !defined(TERMINAL_SIBLINGS)
#error "define TURN_BINDING or TERMINAL_SIBLINGS"
#endif

#define NRUN NPROMPT    /* join-on-running: each request starts at most one run */

/* the store (model/store.py): message i, in id order */
byte n;                     /* messages written (Store.writes) */
byte role[MAXMSG];
byte parent[MAXMSG];        /* parentID: a message index, NONE for users */
byte finish[MAXMSG];        /* 0 until the step ends, STOP or TOOL_CALLS */
bit completed[MAXMSG];
byte tool[MAXMSG];          /* the assistant's tool part: 0 none, RUNNING, COMPLETED */
byte asks[MAXMSG];          /* user: tool round-trips the scripted model performs for it */

/* runners (model/runner.py) and the per-instance runner maps (SessionRunState) */
byte nrunners;
byte tag[NPROMPT];          /* 0 Idle, RUNNING */
byte current[NPROMPT];      /* the run a Running runner runs */
byte home[NPROMPT];         /* the instance whose map made the runner */
byte map[NINST];            /* the session's entry: a runner index or NONE */

/* runs (world.Run): the forked loop and its `done` Deferred */
byte nruns;
byte runner_of[NRUN];
bit done[NRUN];

/* ghost of the open turns (world.Turn), for turn-binding */
byte turn_user[NRUN];       /* NONE when no turn of that run is open */

bit sent[NPROMPT];          /* prompts the server accepted (what `after` waits for) */

/* newest user and newest assistant by id (= write order here), kept as the store is written */
byte last_user = NONE;
byte last_assistant = NONE;

/* the loop's exit test (fibers._iterate, exit = id-order): lastAssistant finished with stop,
   no tool parts, and lastUser sorts before it */
#define EXITS (last_assistant != NONE && finish[last_assistant] == STOP && tool[last_assistant] == 0 \
               && last_user < last_assistant)

/* tool round-trips completed in assistants after the newest user (what fibers._answer counts) */
byte rounds;

/* users that have an assistant with finish = stop (no-terminal-siblings) */
bit ended[MAXMSG];

/* SessionRunState.runner (fibers._lookup): the instance's Runner, made if the map has none */
inline lookup(p, idx) {
  idx = map[INST(p)];
  if
  :: idx == NONE -> idx = nrunners; nrunners++; tag[idx] = 0; home[idx] = INST(p); map[INST(p)] = idx
  :: else
  fi
}

/* Runner.ensureRunning with overlap = join (fibers._ensure): start a run when Idle, else await
   the running one */
inline ensure(idx, w) {
  if
  :: tag[idx] == 0 -> w = nruns; nruns++; runner_of[w] = idx; tag[idx] = RUNNING; current[idx] = w
  :: else -> w = current[idx]
  fi
}

/* pc "create" (fibers._create): mint an id, write the assistant with parentID = the user bound */
#ifdef TURN_BINDING
/* turn-binding: an assistant written during r's open turn answers that turn's user */
#define BINDING_CHECK assert(turn_user[r] == NONE || user == turn_user[r])
#else
#define BINDING_CHECK skip
#endif
#define CREATE msg = n; role[n] = ASSISTANT; parent[n] = user; last_assistant = n; n++; BINDING_CHECK

/* fibers._complete: onIdle deletes the session's map entry whatever it holds (on_idle =
   delete-entry) when finishRun went Idle; then the run's `done` completes */
#define COMPLETE done[r] = 1; if :: idle -> map[home[rr]] = NONE :: else fi  /* one atomic step: order moot */

/* a route handler: prompt / prompt_async (fibers._prompt_step) */
proctype client(byte p) {
  byte idx, w;
  /* pc "send": the server accepts p, createUserMessage writes it (guard = entry), loop() */
  d_step {
    (AFTER(p) == NONE || sent[AFTER(p)]) && n < MAXMSG;
    sent[p] = 1;
    role[n] = USER; parent[n] = NONE; asks[n] = ASKS(p); last_user = n; rounds = 0; n++;
#if !EFFECT
    lookup(p, idx);             /* same step at await granularity */
    ensure(idx, w)
#endif
  };
#if EFFECT
  d_step { lookup(p, idx) };    /* pc "lookup" */
  d_step { ensure(idx, w) };    /* pc "ensure" */
#endif
  /* pc "await": the run's done completed, the request returns */
  done[w]
}

/* the prompt loop of run r (fibers._run_step), forked by startRun */
proctype loop(byte r) {
  byte msg = NONE, user, answer, rr;
  bit continuing, idle;
  r < nruns;                    /* forked: pc "start" is enabled */
  do
  ::
  /* pc "start" / "next": the loop head reads the messages and tests for exit (fibers._iterate,
     binding = iteration: the user bound is lastUser); at await granularity the same step also
     writes the assistant (pc "create") or, on exit, completes the run (pc "exit") */
  d_step {
#if !EFFECT
    EXITS || n < MAXMSG;        /* a step that would write past the bound is cut */
#else
    skip;                       /* (a d_step that a loop re-enters must not begin with an if) */
#endif
    if
    :: EXITS ->
       /* finishRun (fibers._finish_run): the turn closes; Idle only if r is still current */
       turn_user[r] = NONE;
       rr = runner_of[r];
       if
       :: tag[rr] == RUNNING && current[rr] == r -> tag[rr] = 0; idle = 1
       :: else -> idle = 0
       fi;
#if !EFFECT
       COMPLETE;
#endif
       answer = NONE
    :: else ->
       continuing = (msg != NONE && finish[msg] == TOOL_CALLS);
       user = last_user;
       answer = (rounds < asks[user] -> TOOL_CALLS : STOP);
       if
       :: !continuing -> turn_user[r] = user
       :: else
       fi;
#if !EFFECT
       CREATE
#endif
    fi
  };
  if
#if EFFECT
  /* pc "exit": the effect finishRun returned, in a step of its own */
  :: answer == NONE -> d_step { COMPLETE }; break
#else
  :: answer == NONE -> break
#endif
#if EFFECT
  /* pc "create": its own step at effect granularity */
  :: else -> d_step { n < MAXMSG; CREATE }
#else
  :: else
#endif
  fi;
  /* pc "llm": the scripted model streams a tool call, or text and finish-step */
  if
  :: answer == TOOL_CALLS ->
     d_step { tool[msg] = RUNNING };
     /* pc "tool": the tool completes; finish-step with tool-calls */
     d_step {
       tool[msg] = COMPLETED; finish[msg] = TOOL_CALLS; completed[msg] = 1;
       if :: msg > last_user -> rounds++ :: else fi
     }
  :: else ->
     d_step {
       finish[msg] = STOP; completed[msg] = 1; turn_user[r] = NONE;
#ifdef TERMINAL_SIBLINGS
       /* no-terminal-siblings: no other finished, non-tool-calls assistant under this parent */
       assert(!ended[parent[msg]]);
#endif
       ended[parent[msg]] = 1
     }
  fi
  od
}

init {
  byte k;
  d_step {
    k = 0;
    do :: k < NINST -> map[k] = NONE; k++ :: else -> break od;
    k = 0;
    do :: k < NRUN -> turn_user[k] = NONE; k++ :: else -> break od
  };
  atomic {
    k = 0;
    do :: k < NPROMPT -> run client(k); run loop(k); k++ :: else -> break od
  }
}
