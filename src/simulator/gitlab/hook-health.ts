/**
 * How GitLab disables a failing project webhook.
 *
 * `current` follows `app/models/concerns/web_hooks/auto_disabling.rb` and
 * `app/services/web_hooks/log_execution_service.rb` on current GitLab: every failure (an answer
 * outside 2xx/3xx, or none) counts alike; from the 4th consecutive one the hook is disabled for
 * `1 min × 2^(failures before it − 3)`, at most a day; after the 40th it stays disabled. Any
 * success re-enables it and clears the count.
 *
 * `legacy` is the rule before the two kinds were unified (GitLab issue 503733): a 4xx (any
 * answer but 2xx/3xx/500) counts towards permanent disabling after 4 of them in a row, while a
 * 500 or no answer disables the hook at once for 1 min, doubling each time up to a day.
 *
 * GitLab.com has it on; a self-managed instance only with the `auto_disabling_web_hooks` flag.
 */
export type AutoDisableRule = "off" | "current" | "legacy";

const TEMPORARILY_DISABLED_FAILURE_THRESHOLD = 3;
const PERMANENTLY_DISABLED_FAILURE_THRESHOLD = 39;
const INITIAL_BACKOFF_MS = 60_000;
const MAX_BACKOFF_MS = 24 * 3600_000;
/** `WebHook::FAILURE_THRESHOLD` and `MAX_FAILURES` of the legacy rule. */
const LEGACY_FAILURE_THRESHOLD = 3;
const LEGACY_MAX_FAILURES = 100;

export interface HookHealthState {
  /** Consecutive failures counted (`recent_failures`). */
  readonly recentFailures: number;
  /** Consecutive backoffs of the legacy rule (`backoff_count`). */
  readonly backoffCount: number;
  /** World-clock ms until which the hook is temporarily disabled; null when not. */
  readonly disabledUntil: number | null;
}

export type HookStatus = "executable" | "temporarily_disabled" | "disabled";

export const HEALTHY: HookHealthState = { recentFailures: 0, backoffCount: 0, disabledUntil: null };

/** `WebHooks::AutoDisabling#alert_status`. */
export function hookStatus(rule: AutoDisableRule, state: HookHealthState, now: number): HookStatus {
  if (rule === "off") return "executable";
  if (rule === "legacy") {
    if (state.recentFailures > LEGACY_FAILURE_THRESHOLD) return "disabled";
    return state.disabledUntil !== null && state.disabledUntil > now ? "temporarily_disabled" : "executable";
  }
  if (state.recentFailures > PERMANENTLY_DISABLED_FAILURE_THRESHOLD) return "disabled";
  const temporarily = state.disabledUntil !== null && state.disabledUntil >= now && state.recentFailures > TEMPORARILY_DISABLED_FAILURE_THRESHOLD;
  return temporarily ? "temporarily_disabled" : "executable";
}

/**
 * The state after one delivery: `status` is the HTTP status, or null when no answer came.
 * Called only for deliveries actually made (a disabled hook sends nothing).
 */
export function afterDelivery(rule: AutoDisableRule, state: HookHealthState, status: number | null, now: number): HookHealthState {
  if (rule === "off") return state;
  const ok = status !== null && status >= 200 && status < 400;
  if (ok) return HEALTHY;
  if (rule === "current") {
    const recentFailures = Math.min(state.recentFailures + 1, PERMANENTLY_DISABLED_FAILURE_THRESHOLD + 1);
    if (recentFailures <= TEMPORARILY_DISABLED_FAILURE_THRESHOLD) return { ...state, recentFailures };
    const backoff = INITIAL_BACKOFF_MS * 2 ** (state.recentFailures - TEMPORARILY_DISABLED_FAILURE_THRESHOLD);
    return { ...state, recentFailures, disabledUntil: now + Math.min(Math.max(backoff, INITIAL_BACKOFF_MS), MAX_BACKOFF_MS) };
  }
  if (status !== null && status !== 500) {
    // `failed!`: towards permanent disabling, and no backoff.
    return { recentFailures: Math.min(state.recentFailures + 1, LEGACY_MAX_FAILURES), backoffCount: 0, disabledUntil: null };
  }
  // `backoff!`: disabled at once, for longer each time.
  const backoff = Math.min(INITIAL_BACKOFF_MS * 2 ** state.backoffCount, MAX_BACKOFF_MS);
  return { ...state, backoffCount: Math.min(state.backoffCount + 1, LEGACY_MAX_FAILURES), disabledUntil: now + backoff };
}
