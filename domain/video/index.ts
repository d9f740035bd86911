// The video aggregate: events, state and decider of the `video-<id>` stream.
export * from './decide';
export * from './events';
export * from './state';
