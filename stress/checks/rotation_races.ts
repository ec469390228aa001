/**
 * Check 9, rotations and revocations racing writes: a login never undone by
 * the requests a browser had in flight when it landed, and a revoked session
 * never brought back by them.
 *
 * Each simulated browser is a cookie jar that applies `Set-Cookie` in the
 * order the responses arrive, as a browser does. Every user has a few
 * browsers, and the users run side by side.
 *
 * - **Logins.** Each browser first stores an anonymous session, then fires a
 *   wave of reads, `set`s and `increment`s with that cookie, with its login in
 *   the middle: `regenerate()` then `setUser()`, or `setUser()` alone (which
 *   gives the session a new ID by itself), in turn. Once the login answered,
 *   it sends a few more with the old cookie (sent before the new one arrived,
 *   reaching the server after the move). Afterwards its cookie must open its
 *   logged-in session (lost logins), every write answered 200 must be in it
 *   (each increment exactly once), and no write answered 409 may be: a late
 *   write with the old ID answers 409 (`SessionMovedError`), it is never
 *   silently lost nor counted twice.
 * - **Revocations.** Then, per user in turn: "log out everywhere"
 *   (`revokeSessions(user)` from a client holding no session of the user),
 *   "log out other devices" (`revokeSessions(user, { except })` from one of
 *   the user's browsers), or one browser's logout (`destroy()`), lands while
 *   every browser has a wave in flight (one of them rotating its session
 *   meanwhile), followed by late requests with the cookies held before. A copy
 *   of each jar taken before (an attacker's), each jar at the end, and every
 *   cookie a late response set must open no session of the user where it was
 *   ended (resurrected sessions); the sessions meant to stay must stay, with
 *   every increment answered 200.
 *
 * The cookie store keeps each session in its cookie, so a late response with
 * the old cookie re-seals the session it loaded and the last cookie wins: its
 * lost logins, kept sessions and counts are reported, not asserted. Its revocations (a
 * not-valid-before time per user, kept in a server store) are asserted; the
 * cookie store without them cannot revoke, and that half is reported n/a.
 *
 * @module
 */
import { CookieJar, HttpClient, type RawReply } from "../../test/kit/http_client.ts";
import type { StoreUnderTest } from "../context.ts";
import { pool } from "../http.ts";
import { type CheckResult, Figures, notApplicable } from "../result.ts";

const CHECK = 9;
const TITLE = "rotations and revocations racing writes";

/** The size of check 9 for one store. */
export interface RotationLoad {
  /** Users, each with `browsers` browsers. */
  users: number;
  browsers: number;
  /** Requests each browser has in flight around a login or a revocation. */
  wave: number;
  /** Requests each browser sends with its old cookie once the login or revocation answered. */
  late: number;
  /** Users whose rounds run at once. */
  concurrentUsers: number;
}

type OpKind = "read" | "set" | "incr";

/** What the requests of one phase saw. */
interface Tally {
  writes200: number;
  writes409: number;
  /** Writes sent with the old cookie after the move answered: each must be 409. */
  lateWrites: number;
  lateWritesNot409: number;
  increments200: number;
  /** Keys set by writes answered 200, and by writes answered 409. */
  setKeys: string[];
  refusedKeys: string[];
  errors: number;
  firstError: string;
}

function newTally(): Tally {
  return {
    writes200: 0,
    writes409: 0,
    lateWrites: 0,
    lateWritesNot409: 0,
    increments200: 0,
    setKeys: [],
    refusedKeys: [],
    errors: 0,
    firstError: "",
  };
}

/** What `GET /user/whoami` answered. */
interface Whoami {
  userId: string | null;
  browser: string | null;
  hits: number | null;
  keys: string[];
}

/** One store (or the cookie store without revocations, under `/plain`) as the check drives it. */
class Target {
  constructor(
    readonly client: HttpClient,
    readonly prefix: string,
    /** Whether writes are counted (server-side stores: each lands once or answers 409). */
    readonly counts: boolean,
  ) {}

  send(method: string, path: string, jar: CookieJar | undefined): Promise<RawReply> {
    return this.client.request(method, this.prefix + path, jar?.header());
  }

  async whoami(jar: CookieJar): Promise<Whoami> {
    const reply = await this.send("GET", "/user/whoami", jar);
    if (reply.status !== 200) throw new Error(`whoami answered ${reply.status} ${reply.body}`);
    return JSON.parse(reply.body) as Whoami;
  }
}

/**
 * Send op `kind` (writing `key`, for a set) with `cookie`'s cookies as they
 * are now; the answer's cookies go to `jar` when it arrives (and to `seen`,
 * when given); the tally counts it. `late`: sent with the old cookie after
 * the move answered.
 */
async function fire(
  target: Target,
  kind: OpKind,
  key: string,
  cookie: CookieJar,
  jar: CookieJar,
  tally: Tally,
  late: boolean,
  seen?: CookieJar[],
): Promise<void> {
  const path = kind === "read"
    ? "/user/whoami"
    : kind === "incr"
    ? "/incr?k=hits"
    : `/set?k=${key}&v=1`;
  try {
    const reply = await target.send(kind === "read" ? "GET" : "POST", path, cookie);
    jar.apply(reply.setCookies);
    if (seen) keepSet(reply, seen);
    if (kind !== "read" && late) {
      tally.lateWrites++;
      if (reply.status !== 409) tally.lateWritesNot409++;
    }
    if (reply.status === 409) {
      if (kind === "read") throw new Error(`a read answered 409: ${reply.body}`);
      tally.writes409++;
      if (kind === "set") tally.refusedKeys.push(key);
      return;
    }
    if (reply.status !== 200) throw new Error(`${path} answered ${reply.status} ${reply.body}`);
    if (kind === "read") return;
    tally.writes200++;
    if (kind === "incr") tally.increments200++;
    else tally.setKeys.push(key);
  } catch (error) {
    tally.errors++;
    tally.firstError ||= (error as Error).message;
  }
}

/** Keep the cookies `reply` set (not its deletions) as a jar of their own, in `into`. */
function keepSet(reply: RawReply, into: CookieJar[]): void {
  const jar = new CookieJar();
  jar.apply(reply.setCookies);
  if (jar.cookies.size) into.push(jar);
}

function opKind(i: number): OpKind {
  return (["read", "set", "incr"] as const)[i % 3];
}

/** A browser: its jar, its name and what its phases saw. */
interface Browser {
  name: string;
  jar: CookieJar;
  /** The counter its session held after the login phase (server-side stores). */
  hits: number;
}

/** Log `browser` in while its wave is in flight; whether its cookie then opens its login. */
async function loginRound(
  target: Target,
  browser: Browser,
  user: string,
  mode: "regenerate" | "setuser",
  load: RotationLoad,
  tally: Tally,
): Promise<
  {
    lost: boolean;
    lostIncrements: number;
    extraIncrements: number;
    setsLost: number;
    refusedFound: number;
  }
> {
  const jar = browser.jar;
  const pre = await target.send("POST", "/set?k=pre&v=1", jar);
  if (pre.status !== 200) throw new Error(`the anonymous write answered ${pre.status}`);
  jar.apply(pre.setCookies);
  const before = jar.copy();
  const local = newTally();
  const inFlight: Promise<void>[] = [];
  const half = Math.floor(load.wave / 2);
  for (let i = 0; i < half; i++) {
    inFlight.push(fire(target, opKind(i), `w${i}`, before, jar, local, false));
  }
  const login = target.send(
    "POST",
    `/user/login?user=${user}&browser=${browser.name}&mode=${mode}`,
    before,
  ).then((reply) => {
    jar.apply(reply.setCookies);
    if (reply.status !== 200) throw new Error(`login answered ${reply.status} ${reply.body}`);
    // Sent with the old cookie before the new one arrived; they reach the server after the move.
    const late: Promise<void>[] = [];
    for (let i = 0; i < load.late; i++) {
      late.push(fire(target, opKind(i + 1), `l${i}`, before, jar, local, true));
    }
    return Promise.all(late);
  });
  for (let i = half; i < load.wave; i++) {
    inFlight.push(fire(target, opKind(i), `w${i}`, before, jar, local, false));
  }
  await Promise.all([login, ...inFlight]);
  merge(tally, local);
  const me = await target.whoami(jar);
  const lost = me.userId !== user || me.browser !== browser.name;
  browser.hits = me.hits ?? 0;
  if (!target.counts || lost) {
    return { lost, lostIncrements: 0, extraIncrements: 0, setsLost: 0, refusedFound: 0 };
  }
  const keys = new Set(me.keys);
  return {
    lost,
    lostIncrements: Math.max(0, local.increments200 - browser.hits),
    extraIncrements: Math.max(0, browser.hits - local.increments200),
    setsLost: local.setKeys.filter((k) => !keys.has(k)).length + (keys.has("pre") ? 0 : 1),
    refusedFound: local.refusedKeys.filter((k) => keys.has(k)).length,
  };
}

function merge(into: Tally, from: Tally): void {
  into.writes200 += from.writes200;
  into.writes409 += from.writes409;
  into.lateWrites += from.lateWrites;
  into.lateWritesNot409 += from.lateWritesNot409;
  into.increments200 += from.increments200;
  into.errors += from.errors;
  into.firstError ||= from.firstError;
}

/** How a user's sessions end in the revocation half. */
const ENDINGS = ["revoke-all", "revoke-others", "logout"] as const;
type Ending = typeof ENDINGS[number];

/** What one user's revocation round found. */
interface RevocationOutcome {
  probed: number;
  resurrected: number;
  keptLost: number;
  lostIncrements: number;
  extraIncrements: number;
  firstResurrection: string;
  firstKeptLost: string;
}

/**
 * End the sessions of `user` (`ending`) while each of its browsers has a wave
 * in flight, then probe every cookie that could bring one back.
 */
async function revocationRound(
  target: Target,
  browsers: Browser[],
  user: string,
  ending: Ending,
  load: RotationLoad,
  tally: Tally,
): Promise<RevocationOutcome> {
  // Browser 0 logs out, or is the one kept by "log out other devices".
  const ended = (b: number) => ending === "revoke-all" || (ending === "logout" ? b === 0 : b !== 0);
  const copies = browsers.map((b) => b.jar.copy());
  const local = browsers.map(() => newTally());
  // Every cookie a response of an ended session's browser set, probed at the end.
  const lateCookies: CookieJar[] = [];
  const watch = (b: number) => (ended(b) ? lateCookies : undefined);
  const inFlight: Promise<void>[] = [];
  const half = Math.floor(load.wave / 2);
  const waveOf = (b: number, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      // Browser 1 moves its session to a new ID in the middle of its wave.
      if (b === 1 && i === half + 1) {
        inFlight.push(
          target.send("POST", "/user/rotate", copies[b]).then((reply) => {
            browsers[b].jar.apply(reply.setCookies);
            if (ended(b)) keepSet(reply, lateCookies);
            if (reply.status !== 200) throw new Error(`rotate answered ${reply.status}`);
          }).catch((error) => {
            local[b].errors++;
            local[b].firstError ||= (error as Error).message;
          }),
        );
        continue;
      }
      inFlight.push(
        fire(target, opKind(i), `r${i}`, copies[b], browsers[b].jar, local[b], false, watch(b)),
      );
    }
  };
  for (let b = 0; b < browsers.length; b++) waveOf(b, 0, half);
  const endPath = ending === "revoke-all"
    ? `/user/revoke-all?user=${user}`
    : ending === "revoke-others"
    ? `/user/revoke-others?user=${user}`
    : "/user/logout";
  // "Log out everywhere" comes from a client with no session of the user.
  const ender = ending === "revoke-all" ? undefined : copies[0];
  const ending$ = target.send("POST", endPath, ender).then((reply) => {
    if (ending !== "revoke-all") browsers[0].jar.apply(reply.setCookies);
    if (ended(0) && ending !== "revoke-all") keepSet(reply, lateCookies);
    if (reply.status !== 200) throw new Error(`${endPath} answered ${reply.status} ${reply.body}`);
    // Requests sent with the cookies held before, reaching the server after the ending.
    const late: Promise<void>[] = [];
    for (let b = 0; b < browsers.length; b++) {
      for (let i = 0; i < load.late; i++) {
        late.push(
          fire(target, opKind(i), `q${i}`, copies[b], browsers[b].jar, local[b], false, watch(b)),
        );
      }
    }
    return Promise.all(late);
  }).catch((error) => {
    tally.errors++;
    tally.firstError ||= (error as Error).message;
  });
  for (let b = 0; b < browsers.length; b++) waveOf(b, half, load.wave);
  await Promise.all([ending$, ...inFlight]);
  local.forEach((l) => merge(tally, l));

  const out: RevocationOutcome = {
    probed: 0,
    resurrected: 0,
    keptLost: 0,
    lostIncrements: 0,
    extraIncrements: 0,
    firstResurrection: "",
    firstKeptLost: "",
  };
  const probe = async (jar: CookieJar, what: string) => {
    out.probed++;
    const me = await target.whoami(jar);
    if (me.userId === user) {
      out.resurrected++;
      out.firstResurrection ||= `${ending}: ${what} opens a session of ${user} ` +
        `(browser ${me.browser})`;
    }
  };
  for (let b = 0; b < browsers.length; b++) {
    if (ended(b)) {
      await probe(copies[b], `a copy of browser ${browsers[b].name}'s cookie`);
      await probe(browsers[b].jar, `browser ${browsers[b].name}'s cookie at the end`);
      continue;
    }
    const me = await target.whoami(browsers[b].jar);
    if (me.userId !== user || me.browser !== browsers[b].name) {
      out.keptLost++;
      out.firstKeptLost ||= `${ending}: browser ${browsers[b].name}'s cookie at the end opens ` +
        (me.userId === null ? "no session of a user" : `a session of ${me.userId}`);
      continue;
    }
    if (target.counts) {
      const added = (me.hits ?? 0) - browsers[b].hits;
      out.lostIncrements += Math.max(0, local[b].increments200 - added);
      out.extraIncrements += Math.max(0, added - local[b].increments200);
    }
  }
  for (const jar of lateCookies) await probe(jar, "a cookie a late response set");
  return out;
}

/** Figures of check 9 for one store: the logins, and the revocations. */
export async function rotationRaces(
  sut: StoreUnderTest,
  load: RotationLoad,
  deadlineMs: number,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const variants: { label: string; prefix: string; revocations: boolean }[] = sut.kind === "cookie"
    ? [
      { label: "cookie", prefix: "", revocations: true },
      { label: "cookie (no revocations)", prefix: "/plain", revocations: false },
    ]
    : [{ label: sut.kind, prefix: "", revocations: true }];
  for (const variant of variants) {
    const client = new HttpClient(sut.server.port, 128);
    try {
      results.push(...await runVariant(sut, variant, client, load, deadlineMs));
    } finally {
      client.close();
    }
  }
  return results;
}

async function runVariant(
  sut: StoreUnderTest,
  variant: { label: string; prefix: string; revocations: boolean },
  client: HttpClient,
  load: RotationLoad,
  deadlineMs: number,
): Promise<CheckResult[]> {
  const target = new Target(client, variant.prefix, sut.serverSide);
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const userOf = (u: number) => `u${u}-${run}`;
  const browsersOf: Browser[][] = [];

  // Logins.
  let started = Date.now();
  const tally = newTally();
  let lost = 0;
  let lostIncrements = 0;
  let extraIncrements = 0;
  let setsLost = 0;
  let refusedFound = 0;
  let rounds = 0;
  const logins = await pool(load.users, load.concurrentUsers, deadlineMs, async (u) => {
    const browsers: Browser[] = [];
    for (let b = 0; b < load.browsers; b++) {
      browsers.push({ name: `b${b}`, jar: new CookieJar(), hits: 0 });
    }
    browsersOf[u] = browsers;
    await Promise.all(browsers.map(async (browser, b) => {
      try {
        const o = await loginRound(
          target,
          browser,
          userOf(u),
          (u + b) % 2 ? "setuser" : "regenerate",
          load,
          tally,
        );
        rounds++;
        if (o.lost) lost++;
        lostIncrements += o.lostIncrements;
        extraIncrements += o.extraIncrements;
        setsLost += o.setsLost;
        refusedFound += o.refusedFound;
      } catch (error) {
        tally.errors++;
        tally.firstError ||= (error as Error).message;
      }
    }));
  });
  const f = new Figures()
    .set("browsers", load.users * load.browsers)
    .equal("logins", rounds, load.users * load.browsers);
  if (target.counts) {
    f.equal("lost logins", lost, 0)
      .set("writes answered 200", tally.writes200)
      .set("writes answered 409", tally.writes409)
      .equal("late writes not answered 409", tally.lateWritesNot409, 0)
      .atLeast("late writes", tally.lateWrites, 1)
      .set("increments answered 200", tally.increments200)
      .equal("lost increments", lostIncrements, 0)
      .equal("extra increments", extraIncrements, 0)
      .equal("sets lost", setsLost, 0)
      .equal("sets answered 409 found", refusedFound, 0);
  } else {
    // The last cookie wins: a late response re-seals the anonymous session it loaded.
    f.set("lost logins (last cookie wins, by design; not asserted)", lost)
      .set("writes answered 200", tally.writes200)
      .set("writes answered 409", tally.writes409);
  }
  f.equal("errors", tally.errors, 0).equal("crashed processes", sut.crashes(), 0);
  if (tally.firstError) f.set("first error", tally.firstError);
  if (logins.timedOut) f.fail(`stopped at the time bound after ${logins.done} users`);
  const results = [f.result(CHECK, `${TITLE}: logins`, variant.label, started)];

  if (!variant.revocations) {
    results.push(notApplicable(
      CHECK,
      `${TITLE}: revocations`,
      variant.label,
      "a CookieStore without revocations keeps nothing on the server: revokeSessions is refused " +
        "(SessionConfigError) and a logout clears only the browser's own cookie; give it " +
        "{ revocations } to run this half",
    ));
    return results;
  }

  // Revocations: each user's browsers logged in first (the cookie store may have lost some above).
  started = Date.now();
  const rt = newTally();
  let relogins = 0;
  const endings: Record<Ending, number> = { "revoke-all": 0, "revoke-others": 0, "logout": 0 };
  const sum: RevocationOutcome = {
    probed: 0,
    resurrected: 0,
    keptLost: 0,
    lostIncrements: 0,
    extraIncrements: 0,
    firstResurrection: "",
    firstKeptLost: "",
  };
  // A client-side store's logout only clears the browser's cookie: what reopens after it is by design.
  const byDesign = { reopened: 0, first: "" };
  const revocations = await pool(load.users, load.concurrentUsers, deadlineMs, async (u) => {
    const browsers = browsersOf[u];
    if (!browsers) return;
    try {
      for (const browser of browsers) {
        const me = await target.whoami(browser.jar);
        if (me.userId === userOf(u) && me.browser === browser.name) continue;
        relogins++;
        const reply = await target.send(
          "POST",
          `/user/login?user=${userOf(u)}&browser=${browser.name}&mode=regenerate`,
          browser.jar,
        );
        browser.jar.apply(reply.setCookies);
        browser.hits = (await target.whoami(browser.jar)).hits ?? 0;
      }
      const ending = ENDINGS[u % ENDINGS.length];
      const o = await revocationRound(target, browsers, userOf(u), ending, load, rt);
      endings[ending]++;
      sum.probed += o.probed;
      if (ending === "logout" && !target.counts) {
        byDesign.reopened += o.resurrected;
        byDesign.first ||= o.firstResurrection;
      } else {
        sum.resurrected += o.resurrected;
        sum.firstResurrection ||= o.firstResurrection;
      }
      sum.firstKeptLost ||= o.firstKeptLost;
      sum.keptLost += o.keptLost;
      sum.lostIncrements += o.lostIncrements;
      sum.extraIncrements += o.extraIncrements;
    } catch (error) {
      rt.errors++;
      rt.firstError ||= (error as Error).message;
    }
  });
  const r = new Figures()
    .set("log out everywhere", endings["revoke-all"])
    .set("log out other devices", endings["revoke-others"])
    .set("logouts", endings.logout)
    .equal(
      "rounds",
      endings["revoke-all"] + endings["revoke-others"] + endings.logout,
      load.users,
    )
    .atLeast("cookies probed", sum.probed, 1)
    .equal("resurrected sessions", sum.resurrected, 0)
    .set("writes answered 200", rt.writes200)
    .set("writes answered 409", rt.writes409);
  if (target.counts) {
    r.equal("kept sessions lost", sum.keptLost, 0)
      .equal("lost increments of kept sessions", sum.lostIncrements, 0)
      .equal("extra increments of kept sessions", sum.extraIncrements, 0);
  } else {
    // A write in flight when "log out other devices" re-sealed the kept
    // session answers with the cookie it loaded; if that answer arrives last,
    // the browser holds a revoked cookie.
    r.set("kept sessions lost (last cookie wins, by design; not asserted)", sum.keptLost)
      .set("logins redone first", relogins)
      .set(
        "reopened after a logout (last cookie wins, by design; not asserted)",
        byDesign.reopened,
      );
  }
  r.equal("errors", rt.errors, 0).equal("crashed processes", sut.crashes(), 0);
  if (sum.firstResurrection) r.set("first resurrection", sum.firstResurrection);
  if (sum.firstKeptLost) r.set("first kept session lost", sum.firstKeptLost);
  if (rt.firstError) r.set("first error", rt.firstError);
  if (revocations.timedOut) r.fail(`stopped at the time bound after ${revocations.done} users`);
  results.push(r.result(CHECK, `${TITLE}: revocations`, variant.label, started));
  return results;
}
