// Fires the presence-owned notifications 'session:available' and 'session:unavailable' (router/hooks.ts).
// ModuleContext.hooks offers only on() so far; this uses hooks.fire() when the context provides it (the
// shard's HookBus has it) and does nothing otherwise, so the one place to simplify is here.
import type { ModuleContext } from '../../router/module.ts';
import type { HookMap, HookResult } from '../../router/hooks.ts';

type SessionHook = 'session:available' | 'session:unavailable';
type Fire = (name: SessionHook, event: HookMap[SessionHook]) => HookResult | Promise<HookResult>;

export async function fireSessionHook(ctx: ModuleContext, name: SessionHook, event: HookMap[SessionHook]): Promise<void> {
  const hooks = ctx.hooks as ModuleContext['hooks'] & { fire?: Fire };
  if (typeof hooks.fire !== 'function') return;
  await hooks.fire(name, event);
}
