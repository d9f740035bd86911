// Workflow Updates from outside a workflow (the API, activities): a refusal by the workflow's validator or handler
// comes back as a value with its code, a missing or finished workflow as `not_running`; anything else is thrown.
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';

export type UpdateOutcome<R> = { ok: true; result: R } | { ok: false; code: string; message: string };

export async function executeUpdateOrRefusal<R, A extends [unknown, ...unknown[]]>(
  handle: WorkflowHandle,
  update: UpdateDefinition<R, A>,
  args: A,
): Promise<UpdateOutcome<R>> {
  try {
    return { ok: true, result: await handle.executeUpdate(update, { args }) };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure) return { ok: false, code: cause.type ?? 'refused', message: cause.message };
      return { ok: false, code: 'refused', message: cause?.message ?? err.message };
    }
    if (err instanceof WorkflowNotFoundError || /workflow execution already completed|not found/i.test((err as Error).message)) {
      return { ok: false, code: 'not_running', message: `workflow ${handle.workflowId} is not running` };
    }
    throw err;
  }
}
