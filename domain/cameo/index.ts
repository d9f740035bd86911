// The cameo aggregate: events, state, decider and hash chain of the `cameo-<id>` stream.
export * from './chain';
export * from './decide';
export * from './events';
export * from './state';
