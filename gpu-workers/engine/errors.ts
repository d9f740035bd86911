// Typed errors of the inference engine: bad input names the field and what was wrong; a bad pack names the mismatch.

export class InvalidRenderInput extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`invalid ${field}: ${reason}`);
    this.name = 'InvalidRenderInput';
  }
}

export class ModelPackMismatch extends Error {
  constructor(
    readonly pack: string,
    readonly detail: string,
  ) {
    super(`model pack ${pack}: ${detail}`);
    this.name = 'ModelPackMismatch';
  }
}
