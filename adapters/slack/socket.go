package slack

import (
	"context"
	"errors"
	"fmt"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// runSocket serves Socket Mode until ctx is done: the same commands, buttons and events as the
// HTTP endpoints, each acknowledged at once with an empty ack and answered through its
// response_url. slack-go reconnects when Slack asks; a failure to authenticate ends Run.
func (a *Adapter) runSocket(ctx context.Context) error {
	sm := socketmode.New(a.api)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()
	a.log.Info("socket mode starting")
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt := <-sm.Events:
			a.socketEvent(ctx, sm, evt)
		}
	}
}

// socketEvent handles one Socket Mode event. Requests from Slack are acknowledged before any work.
func (a *Adapter) socketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	ack := func() {
		if evt.Request == nil {
			return
		}
		if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
			a.log.Warn("socket mode ack failed", "err", err)
		}
	}
	switch evt.Type {
	case socketmode.EventTypeConnected:
		a.log.Info("socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage:
		a.log.Warn("socket mode trouble", "event", evt.Type, "detail", fmt.Sprint(evt.Data))
	case socketmode.EventTypeInvalidAuth:
		a.log.Error("socket mode: invalid app token")
	case socketmode.EventTypeSlashCommand:
		ack()
		cmd, ok := evt.Data.(slackgo.SlashCommand)
		if !ok {
			return
		}
		inv, ok := commandInvocation(cmd, "")
		if !ok {
			a.log.Warn("socket mode: slash command lacks team, channel, user or response_url")
			return
		}
		a.goWork(func(ctx context.Context) { a.runCommand(ctx, inv) })
	case socketmode.EventTypeInteractive:
		ack()
		if ic, ok := evt.Data.(slackgo.InteractionCallback); ok {
			a.dispatchInteraction(ic)
		}
	case socketmode.EventTypeEventsAPI:
		ack()
		if ev, ok := evt.Data.(slackevents.EventsAPIEvent); ok {
			a.handleEvent(ev)
		}
	}
}
