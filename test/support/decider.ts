// given(events).when(command).then(events) / .thenThrows(code) for pure deciders, after Emmett's DeciderSpecification.
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
}

export function specFor<Command, Event, State>(decider: Decider<Command, Event, State>) {
  return {
    given(events: Event[]) {
      const state = events.reduce(decider.evolve, decider.initialState);
      return {
        when(command: Command) {
          const run = () => decider.decide(command, state);
          return {
            then(expected: Event[]) {
              expect(run()).toEqual(expected);
            },
            thenThrows(check: (err: unknown) => boolean | void) {
              let thrown: unknown;
              try {
                run();
              } catch (err) {
                thrown = err;
              }
              expect(thrown).toBeDefined();
              const verdict = check(thrown);
              if (verdict === false) throw new Error(`unexpected refusal: ${String(thrown)}`);
            },
          };
        },
      };
    },
  };
}
