"""The command lines of the publishers the bench drives: real clients (ffmpeg,
and tools/rtmp-publish on librtmp) and rtmp-load standing in for many of them."""

# OBS's outgoing chunk size; rtmp-publish otherwise keeps librtmp's 128.
LIBRTMP_CHUNK_SIZE = 4096


def ffmpeg(fixture, url):
    """A stock ffmpeg publisher: the fixture looped in real time, copied, as FLV."""
    return ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1',
            '-i', fixture, '-c', 'copy', '-f', 'flv', url]


def rtmp_publish(binary, fixture, url):
    """librtmp's RTMP_SendPacket as OBS uses it: real time, looping, 4096-byte chunks."""
    return [binary, '--realtime', '--loop', '0', '--chunk-size', str(LIBRTMP_CHUNK_SIZE), fixture, url]


def real_client(pattern, fixture, url, rtmp_publish_binary):
    """The real client whose writes rtmp-load's `pattern` reproduces."""
    if pattern == 'ffmpeg':
        return ffmpeg(fixture, url)
    if pattern == 'librtmp':
        return rtmp_publish(rtmp_publish_binary, fixture, url)
    raise ValueError(f'no real client for the {pattern} pattern')


def rtmp_load(binary, fixture, pattern, seconds, urls_file, count, extra=()):
    """rtmp-load with one write pattern: the first `count` URLs of `urls_file`."""
    return [binary, '--flv', fixture, '--pattern', pattern, '--urls', urls_file, '--count', str(count),
            '--duration', str(seconds), '--progress', '0', *extra]
