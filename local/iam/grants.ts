/**
 * A role's grants, one by one, and the stack without one of them: what `npm run iam:minimal`
 * removes in turn to show that each grant is needed. A grant is one Allow statement of one of the
 * role's policies, or one action of a statement that lists several (removing the action only).
 * The AWS managed policies a function role attaches (logs, X-Ray) are the Lambda runtime's, which
 * the local cloud does not call: they are not listed.
 */

import type { StackIam, TemplatePolicy } from './template';
import type { Statement } from './types';

export interface Grant {
  /** The role's logical id. */
  role: string;
  /** The policy's name as decisions report it. */
  policy: string;
  /** The statement's index in that policy. */
  statement: number;
  /** One action of a multi-action statement; absent: the whole statement. */
  action?: string;
  /** How the table shows it: `<actions> on <resources>`. */
  label: string;
}

const AWS_MANAGED = /^arn:[^:]+:iam::aws:policy\//;
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every grant of a role, statement by statement (a multi-action statement: action by action). */
export function grantsOf(stack: StackIam, roleId: string): Grant[] {
  const role = stack.roles.get(roleId);
  if (!role) throw new Error(`no role ${roleId} in the stack`);
  const out: Grant[] = [];
  for (const p of role.policies) {
    if (AWS_MANAGED.test(p.name)) continue;
    const statements = list<Statement>(p.document.Statement);
    statements.forEach((st, i) => {
      if (st.Effect !== 'Allow') return;
      const actions = list<string>(st.Action);
      const resources = list<string>(st.Resource ?? st.NotResource);
      const on = resources.map((r) => r.replace(/^arn:aws:[^:]*:[^:]*:\d*:/, '')).join(', ');
      const cond = st.Condition ? ' (with condition)' : '';
      if (actions.length > 1)
        for (const action of actions)
          out.push({
            role: roleId,
            policy: p.name,
            statement: i,
            action,
            label: `${action} on ${on}${cond}`,
          });
      else
        out.push({
          role: roleId,
          policy: p.name,
          statement: i,
          label: `${actions.join(', ') || 'NotAction'} on ${on}${cond}`,
        });
    });
  }
  return out;
}

/** The stack with one grant removed from one role (other roles sharing a managed policy keep it). */
export function withoutGrant(stack: StackIam, g: Grant): StackIam {
  const role = stack.roles.get(g.role);
  if (!role) throw new Error(`no role ${g.role} in the stack`);
  const policies: TemplatePolicy[] = role.policies.map((p) => {
    if (p.name !== g.policy) return p;
    const statements = list<Statement>(p.document.Statement);
    const changed = statements.flatMap((st, i) => {
      if (i !== g.statement) return [st];
      if (g.action === undefined) return [];
      const rest = list<string>(st.Action).filter((a) => a !== g.action);
      return rest.length ? [{ ...st, Action: rest }] : [];
    });
    return { name: p.name, document: { ...p.document, Statement: changed } };
  });
  const roles = new Map(stack.roles);
  roles.set(g.role, { ...role, policies });
  return { ...stack, roles };
}
